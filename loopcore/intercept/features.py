"""Raw features of a request: what is asked and where, and what the agent is told.

Every feature counts *distinct* evidence (a set of matched phrases or names)
or records presence, so repeating a word cannot raise it. Directions are fixed
by reasoning about what makes a request actionable, documented per feature in
``FEATURE_DOCS``; the labelled data only checked them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, compress, count
from operator import ne

from loopcore.intercept._anchors import ANCHOR_KINDS, LOCATION_KINDS, find_anchors
from loopcore.intercept._phrases import (
    BEHAVIOUR_VERBS,
    CHANGE_VERBS,
    FUNCTION_WORDS,
    INDEX,
    INDEX2,
    KINDS,
    SEPARATOR,
    SETS,
    Phrase,
    tokens,
)
from loopcore.intercept._text import Text, split_text

__all__ = ["FEATURE_DOCS", "Evidence", "extract", "extract_features"]

FEATURE_DOCS: dict[str, str] = {
    "distinct_words": "distinct words (prose and code)",
    "length": "log of distinct words, saturating at about 150 (+, diminishing returns)",
    "prose": "share of the function words a sentence needs; a keyword list has none (+)",
    "goal": "a stated ask: an imperative, a request, an expectation (1) or a failure (0.8) (+)",
    "asks": "distinct (verb, object) asks; several independent ones want decomposing (-)",
    "anchors": "distinct names of code: files, functions, classes, settings, flags (+)",
    "location": "1 a file, line or code link; 0.8 a function, class or module; else 0 (+)",
    "failure": "the text reports a failure, so a reproduction applies",
    "code": "a code block, indented code or an interactive session (+)",
    "repro_steps": "reproduction steps or an example announced (+)",
    "error_output": "a traceback or an error line (+)",
    "versions": "distinct versions and platforms named (+)",
    "references": "distinct links, issue or PR numbers (neutral: reported, not scored)",
    "links": "distinct links to pages other than code: substance the agent may not read (-)",
    "observed": "what happens now is described (+)",
    "expected": "what should happen is stated (should + a behaviour, expected, instead of) (+)",
    "behaviour": "an imperative that states behaviour directly ('raise after 3 tries') (+)",
    "proposal": "a proposed fix, patch or design (+)",
    "tests": "tests named or asked for (+)",
    "bounds": "a number with a unit, or a limit (+)",
    "constraints": "distinct explicit constraints: must not, never, backward compatible (+)",
    "rationale": "why it is wanted (because, so that, use case) (+)",
    "diagnosis": "the cause is named (caused by, the problem is) (+)",
    "hedges": "distinct hedges and open options: maybe, I think, not sure, we could (-)",
    "vague": "distinct vague terms: something, stuff, etc, properly (-)",
    "elsewhere": "distinct pointers to a spec the agent cannot read: as discussed, see #12 (-)",
    "questions": "distinct open questions in the prose (-)",
    "context_words": "distinct words the context adds that the prompt lacks (+)",
}

_ERROR_LINE = re.compile(r"[ \t]*[\w.]*(?:Error|Exception|Warning)\b:\s")
_ERROR_WORDS = ("Error", "Exception", "Warning")
_TEST_NAME = re.compile(r"test_\w")
_SEPARATORS = frozenset({SEPARATOR})
_CLAUSE_START = _SEPARATORS | {"and", "also", "then", "please"}
_FILLERS = frozenset(str.split("a an the some new support for to me it that this ability option"))
_UNITS = SETS["unit"] | {"%"}
_VERBS = CHANGE_VERBS | BEHAVIOUR_VERBS
# Words that can start a cue phrase or an ask.
_INTERESTING = frozenset(INDEX) | {a for a, _ in INDEX2} | _VERBS
# Anchor kinds preferred when quoting one back in a question, best first.
# Words whose only cue phrase is the word itself, with its kind.
_SOLO = {
    tok: phrases[0][1]
    for tok, phrases in INDEX.items()
    if len(phrases) == 1 and phrases[0][0] == (tok,) and phrases[0][1] != "_"
}
_HITS = _INTERESTING | _UNITS
_DIGITS = "0123456789"
_QUOTABLE = ("call", "camel", "dotted", "snake", "const", "endpoint", "backtick")
_PROMPT_ONLY = frozenset(
    {
        "asks",
        "prose",
        "distinct_words",
        "length",
        "questions",
        "hedges",
        "vague",
        "elsewhere",
        "links",
    }
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Evidence:
    """What was matched, for writing issues and questions (sorted, for determinism)."""

    hedges: tuple[str, ...] = ()
    vague: tuple[str, ...] = ()
    elsewhere: tuple[str, ...] = ()
    asks: tuple[str, ...] = ()
    anchor: str = ""


@dataclass(kw_only=True, slots=True)
class _Scan:
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
            if t in _SEPARATORS:
                return False
        elif w == "@num":
            if not t[:1].isdigit():
                return False
        elif t not in SETS[w[1:]]:
            return False
    return True


def _clause(toks: Sequence[str], i: int, scan: _Scan) -> None:
    tok = toks[i]
    if tok in CHANGE_VERBS:
        j = i + 1
        while j < len(toks) and toks[j] in _FILLERS:
            j += 1
        obj = toks[j] if j < len(toks) and toks[j] not in _SEPARATORS else ""
        scan.asks.add((tok, obj))
    elif tok in BEHAVIOUR_VERBS:
        scan.behaviour = True


def _scan(prose: str) -> _Scan:
    """One pass over the prose words: cue phrases, clause-initial verbs, the word set.

    Words repeated in place are collapsed first, so padding cannot create a phrase.
    """
    # A word run together with itself ("json json json") is read once (C-level collapse).
    raw = tokens(prose)
    toks = list(compress(raw, map(ne, raw, chain((None,), raw))))
    if not toks:
        return _Scan()
    words = set(toks)
    words.discard(SEPARATOR)  # (in place: the separator is no bound either)
    scan = _Scan(words=words)
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


def _phrase_at(toks: Sequence[str], i: int, scan: _Scan, pairs: Sequence[Phrase]) -> int:
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


def _names_test(full: str) -> bool:
    """A test named like ``test_retry`` (not ``latest_x``)."""
    return any(
        m.start() == 0 or not (full[m.start() - 1].isalnum() or full[m.start() - 1] == "_")
        for m in _TEST_NAME.finditer(full)
    )


def _error_output(full: str) -> bool:
    """A traceback, a stack frame line, or a line that starts with ``SomeError: ...``."""
    if "Traceback (most recent call last)" in full or ('File "' in full and '", line ' in full):
        return True
    if not any(w in full for w in _ERROR_WORDS):
        return False
    return any(
        _ERROR_LINE.match(line)
        for line in full.split("\n")
        if "Error" in line or "Exception" in line or "Warning" in line
    )


def _questions(prose: str) -> int:
    """Distinct sentences of the prose that end in a question mark.

    A question is the text from the previous sentence end (``.``, ``!``, ``?``) or
    line start up to a ``?`` followed by a space or the line end, at least three
    characters long. Each ``?`` is looked at once and the text back to the previous
    break searched once, so the work is linear in the length of the prose (a
    backtracking regular expression was quadratic on a long line with no break).
    """
    found = set()
    prev = 0  # where the text after the last "?" starts
    q = prose.find("?")
    while q >= 0:
        # Three characters at least: no search needed when the last "?" is that close.
        if q - prev >= 3:
            start = max(
                prose.rfind(".", prev, q), prose.rfind("!", prev, q), prose.rfind("\n", prev, q)
            )
            start = prev if start < 0 else start + 1
            if q - start >= 3 and (q + 1 == len(prose) or prose[q + 1].isspace()):
                found.add(" ".join(prose[start : q + 1].lower().split()))
        prev = q + 1
        q = prose.find("?", prev)
    return len(found)


def _quotable(anchors: dict[str, set[str]]) -> str:
    for kind in _QUOTABLE:
        if anchors[kind]:
            return min(anchors[kind], key=lambda a: (len(a), a)).strip("`")
    return ""


def _location(anchors: dict[str, set[str]]) -> float:
    if any(anchors[k] for k in LOCATION_KINDS):
        return 1.0
    return 0.8 if any(anchors[k] for k in ANCHOR_KINDS) else 0.0


def _text_features(text: Text) -> tuple[dict[str, float], Evidence]:
    """Features of one normalised text, and the evidence behind the negative ones."""
    scan = _scan(text.prose)
    cues = scan.cues
    anchors = find_anchors(text.full)
    words = scan.words.union(text.code.lower().split())
    failure = bool(cues["failure"] or anchors["error_name"])
    goal = scan.asks or scan.behaviour or cues["request"] or cues["expected"] or cues["proposal"]
    # A sentence needs only a few function words; asking for more would punish terse text.
    needed = max(1.0, min(4.0, 0.2 * len(words)))
    evidence = Evidence(
        hedges=tuple(sorted(cues["hedge"])),
        vague=tuple(sorted(cues["vague"])),
        elsewhere=tuple(sorted(cues["elsewhere"])),
        asks=tuple(sorted(f"{verb} {obj}".strip() for verb, obj in scan.asks)),
        anchor=_quotable(anchors),
    )
    features = {
        "distinct_words": float(len(words)),
        "length": min(1.0, math.log1p(len(words)) / math.log1p(150.0)),
        "prose": min(1.0, len(scan.words & FUNCTION_WORDS) / needed),
        "goal": 1.0 if goal else (0.8 if failure else 0.0),
        "asks": float(len(scan.asks)),
        "anchors": float(sum(len(anchors[k]) for k in ANCHOR_KINDS)),
        "location": _location(anchors),
        "failure": 1.0 if failure else 0.0,
        "code": 1.0 if text.fenced or text.code_lines >= 2 else 0.0,
        "repro_steps": 1.0 if cues["repro"] else 0.0,
        "error_output": 1.0 if _error_output(text.full) else 0.0,
        "versions": float(len(cues["version"] | anchors["version"])),
        "references": float(len(cues["reference"] | anchors["reference"] | anchors["code_url"])),
        "links": float(sum("://" in ref for ref in anchors["reference"])),
        "observed": 1.0 if cues["observed"] else 0.0,
        "expected": 1.0 if cues["expected"] else 0.0,
        "behaviour": 1.0 if scan.behaviour else 0.0,
        "proposal": 1.0 if cues["proposal"] else 0.0,
        "tests": 1.0 if cues["tests"] or _names_test(text.full) else 0.0,
        "bounds": 1.0 if cues["bound"] else 0.0,
        "constraints": float(len(cues["constraint"])),
        "rationale": 1.0 if cues["rationale"] else 0.0,
        "diagnosis": 1.0 if cues["diagnosis"] else 0.0,
        "hedges": float(len(cues["hedge"])),
        "vague": float(len(cues["vague"])),
        "elsewhere": float(len(cues["elsewhere"])),
        "questions": float(_questions(text.prose)),
    }
    return features, evidence


def _merge(prompt: dict[str, float], extra: dict[str, float]) -> dict[str, float]:
    """Prompt plus context: evidence in either counts; asks and doubts are the prompt's."""
    merged = dict(prompt)
    for key, value in extra.items():
        if key not in _PROMPT_ONLY:
            merged[key] = max(merged[key], value)
    return merged


def extract(prompt: str, context: str | None = None) -> tuple[dict[str, float], Evidence]:
    """Read the raw features of ``prompt`` (and what ``context`` adds), with their evidence.

    The context counts only for what it adds: its sentences already in the
    prompt are dropped, so a context that echoes the prompt (or the task
    title) changes nothing.
    """
    seen: set[str] = set()
    text = split_text(prompt, seen=seen)
    features, evidence = _text_features(text)
    features["context_words"] = 0.0
    if context and context.strip():
        ctx = split_text(context, seen=seen)
        if ctx.full.strip():
            features = _merge(features, _text_features(ctx)[0])
            own = set(tokens(text.full))
            added = set(tokens(ctx.full)) - own - FUNCTION_WORDS - _SEPARATORS
            features["context_words"] = float(len(added))
    return features, evidence


def extract_features(prompt: str, context: str | None = None) -> dict[str, float]:
    """The raw features of ``prompt`` in context (see ``FEATURE_DOCS``)."""
    return extract(prompt, context)[0]
