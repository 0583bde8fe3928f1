"""Word handling for the completeness evaluator: tokens, light stems, function words."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["STOPWORDS", "Tokens", "is_content", "stem", "stems_of", "tokenize"]

# Our own pattern, linear: runs of letters or digits (underscores split words).
_WORD = re.compile(r"[^\W_]+")

# Function words and the generic words of requests ("please make sure you ...");
# they carry no content of their own, so they neither cover nor pad anything.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each either
    else etc few for from further had has have having he her here hers him his how i if in into
    is it its itself just least let like may me might more most must my need needs no nor not
    now of off on once one only or other our ours out over own please per same shall she should
    so some such sure than that the their theirs them then there these they this those through
    thus to too under until up upon us use used using very via was we were what when where
    whether which while who whom whose why will with within without would yes yet you your
    yours make makes ensure ensures given get gets also okay ok
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_SUFFIXES = (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("s", ""))


def stem(word: str) -> str:
    """A light English stem, so "retries", "retried" and "retrying" meet "retry"."""
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, repl in _SUFFIXES:
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + repl
            break
    # "handle"/"handling", "raise"/"raised": drop a final e so both sides meet.
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


@dataclass(frozen=True, slots=True)
class Tokens:
    """The words of a text, in order, with their start offsets in characters.

    A function word is kept as ``""`` so positions stay true but it never
    counts as content.
    """

    stems: tuple[str, ...]
    starts: tuple[int, ...]
    stopword_count: int


def tokenize(text: str, limit: int = 200_000) -> Tokens:
    """Lower-cased stemmed words of ``text`` (at most ``limit`` of them)."""
    stems: list[str] = []
    starts: list[int] = []
    stop = 0
    for match in _WORD.finditer(text):
        word = match.group(0).casefold()
        if word in STOPWORDS:
            stop += 1
            stems.append("")
        else:
            stems.append(stem(word))
        starts.append(match.start())
        if len(stems) >= limit:
            break
    return Tokens(tuple(stems), tuple(starts), stop)


def is_content(token: str) -> bool:
    """A token that carries content: not a function word, and a number or 2+ letters."""
    return len(token) >= 2 or token.isdigit()


def stems_of(text: str) -> set[str]:
    """The distinct content stems of ``text`` (function words dropped)."""
    found: set[str] = set()
    for match in _WORD.finditer(text):
        word = match.group(0).casefold()
        if word not in STOPWORDS and is_content(token := stem(word)):
            found.add(token)
    return found
