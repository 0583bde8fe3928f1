"""One pass over the prose words: cue phrases, clause-initial verbs, the word set.

Words repeated in place are collapsed first, so padding cannot create a
phrase; the loop visits only the few positions where a phrase, an ask or a
bound can start (selected at C level), and matches phrases through the
indexes of ``_phrases``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, compress, count
from operator import ne

from loopcore.intercept._phrases import (
    BEHAVIOUR_VERBS,
    CHANGE_VERBS,
    INDEX,
    INDEX2,
    KINDS,
    SEPARATOR,
    SETS,
    Phrase,
    tokens,
)

__all__ = ["SEPARATORS", "Scan", "scan_prose"]

SEPARATORS = frozenset({SEPARATOR})
_CLAUSE_START = SEPARATORS | {"and", "also", "then", "please"}
_FILLERS = frozenset(str.split("a an the some new support for to me it that this ability option"))
_UNITS = SETS["unit"] | {"%"}
_VERBS = CHANGE_VERBS | BEHAVIOUR_VERBS
# Words that can start a cue phrase or an ask.
_INTERESTING = frozenset(INDEX) | {a for a, _ in INDEX2} | _VERBS
# Words whose only cue phrase is the word itself, with its kind.
_SOLO = {
    tok: phrases[0][1]
    for tok, phrases in INDEX.items()
    if len(phrases) == 1 and phrases[0][0] == (tok,) and phrases[0][1] != "_"
}
_HITS = _INTERESTING | _UNITS
_DIGITS = "0123456789"


@dataclass(kw_only=True, slots=True)
class Scan:
    """What one pass over the prose words found."""

    cues: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    asks: set[tuple[str, str]] = field(default_factory=set)
    behaviour: bool = False
    words: set[str] = field(default_factory=set)


def _matches(toks: Sequence[str], i: int, words: tuple[str, ...], start: int) -> bool:
    """Whether ``words`` matches at word ``i``; its first ``start`` words are known to."""
    if i + len(words) > len(toks):
        return False
    for k in range(start, len(words)):
        w = words[k]
        t = toks[i + k]
        if w[0] != "@":
            if t != w:
                return False
        elif w == "@any":
            if t in SEPARATORS:
                return False
        elif w == "@num":
            if not t[:1].isdigit():
                return False
        elif t not in SETS[w[1:]]:
            return False
    return True


def _clause(toks: Sequence[str], i: int, scan: Scan) -> None:
    tok = toks[i]
    if tok in CHANGE_VERBS:
        j = i + 1
        while j < len(toks) and toks[j] in _FILLERS:
            j += 1
        obj = toks[j] if j < len(toks) and toks[j] not in SEPARATORS else ""
        scan.asks.add((tok, obj))
    elif tok in BEHAVIOUR_VERBS:
        scan.behaviour = True


def scan_prose(prose: str) -> Scan:
    """One pass over the prose words: cue phrases, clause-initial verbs, the word set.

    Words repeated in place are collapsed first, so padding cannot create a phrase.
    """
    # A word run together with itself ("json json json") is read once (C-level collapse).
    raw = tokens(prose)
    toks = list(compress(raw, map(ne, raw, chain((None,), raw))))
    if not toks:
        return Scan()
    words = set(toks)
    words.discard(SEPARATOR)  # (in place: the separator is no bound either)
    scan = Scan(words=words)
    toks.append("")  # so toks[i + 1] (and toks[-1] for i == 0) always exists
    bounds = scan.cues["bound"]
    # A number carrying its unit ("10ms", "50%") is a bound wherever it stands.
    # (w < ":" first: one comparison rejects a word starting with a letter.)
    bounds.update(w for w in words if w < ":" and w >= "0" and w.lstrip(_DIGITS) in _UNITS)
    # C-level selection of the few positions worth a look; the loop visits only those.
    skip = 0
    for i in compress(count(), map(_HITS.__contains__, toks)):
        tok = toks[i]
        if tok in _UNITS:  # a bare number before a unit is a bound ("3 tries")
            prev = toks[i - 1]
            if "0" <= prev < ":" and prev.lstrip(_DIGITS) not in _UNITS:
                bounds.add(f"{prev} {tok}")
            if tok not in _INTERESTING:
                continue
        if tok in _VERBS and (i == 0 or toks[i - 1] in _CLAUSE_START):
            _clause(toks, i, scan)
        if i < skip or tok < ":":  # a word starting with a digit starts no phrase
            continue
        pairs = INDEX2.get((tok, toks[i + 1]), ())
        if not pairs:
            kind = _SOLO.get(tok)
            if kind is not None:  # the only phrase is the word itself: no matching needed
                scan.cues[kind].add(tok)
                continue
            if tok not in INDEX:
                continue
        skip = i + _phrase_at(toks, i, scan, pairs)
    return scan


def _phrase_at(toks: Sequence[str], i: int, scan: Scan, pairs: Sequence[Phrase]) -> int:
    """Record the longest cue phrase starting at word ``i``; return how many words it spans.

    ``pairs`` are the phrases indexed under words ``i`` and ``i + 1`` (``toks`` ends
    with a sentinel, so word ``i + 1`` exists). A phrase indexed under its first two
    words matches them by construction, one under its first word that word: only the
    words after those are compared. Lists are longest first.
    """
    tok = toks[i]
    best: tuple[str, ...] = ()
    best_kind = ""
    for words, kind in pairs:
        if len(words) == 2 or _matches(toks, i, words, 2):
            best, best_kind = words, kind
            break
    for words, kind in INDEX.get(tok, ()):
        if len(words) <= len(best):
            break  # the rest are no longer than the phrase already found
        if len(words) == 1 or _matches(toks, i, words, 1):
            best, best_kind = words, kind
            break
    if not best:
        return 1
    if best_kind != "_":
        scan.cues[best_kind].add(" ".join(toks[i : i + len(best)]))
    return len(best)
