"""Raw features of a request: what is asked and where, and what the agent is told.

Every feature counts *distinct* evidence (a set of matched phrases or names)
or records presence, so repeating a word cannot raise it. Directions are fixed
by reasoning about what makes a request actionable, documented per feature in
``FEATURE_DOCS``; the labelled data only checked them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loopcore.intercept._anchors import ANCHOR_KINDS, LOCATION_KINDS, find_anchors
from loopcore.intercept._phrases import FUNCTION_WORDS, tokens
from loopcore.intercept._reasoning import (
    desired_stated,
    explained,
    grounded_names,
    listed_features,
    pointed_names,
    quotable_name,
)
from loopcore.intercept._scan import SEPARATORS, scan_prose
from loopcore.intercept._text import Text, split_text

__all__ = ["FEATURE_DOCS", "Evidence", "extract", "extract_features"]

FEATURE_DOCS: dict[str, str] = {
    "distinct_words": "distinct words (prose and code)",
    "length": "log of distinct prose words, saturating at about 150 (+; _reasoning.explained)",
    "prose": "share of the function words a sentence needs; a keyword list has none (+)",
    "goal": "a stated ask: an imperative, a request, an expectation (1) or a failure (0.8) (+)",
    "asks": "distinct (verb, object) asks; several independent ones want decomposing (-)",
    "anchors": "distinct names of code: files, functions, classes, settings, flags (+)",
    "named": "distinct names of code the prose points at, not only quoted code (+; _reasoning)",
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
    "desired": "the behaviour wanted is stated, not only the behaviour seen (+; _reasoning)",
    "only_observed": "a failure reported with no behaviour wanted: the fix is open (-; _reasoning)",
    "grounded": "distinct names in the prose that the quoted code shows too (+; _reasoning)",
    "features_listed": "features listed for something new; 4 or more route to decompose",
    "comparative": "a change of degree (faster, slower, leaner): the start must be measured",
    "behaviour": "an imperative that states behaviour directly ('raise after 3 tries') (+)",
    "proposal": "a proposed fix, patch or design (+)",
    "tests": "tests named or asked for (+)",
    "bounds": "a number with a unit, or a limit (+)",
    "constraints": "distinct explicit constraints: must not, never, backward compatible (+)",
    "rationale": "why it is wanted (because, so that, use case) (+)",
    "diagnosis": "the cause is named (caused by, the problem is) (+)",
    "hedges": "distinct hedges about facts: maybe, I think, it seems, not sure (-)",
    "decisions": "distinct choices left to the implementer: whether to, should we, or maybe (-)",
    "contradictions": "distinct signs that two demands conflict: contradicts, inconsistent (-)",
    "vague": "distinct vague terms: something, stuff, etc, properly (-)",
    "elsewhere": "distinct pointers to a spec the agent cannot read: as discussed, see #12 (-)",
    "questions": "distinct open questions in the prose (-)",
    "context_words": "distinct words the context adds that the prompt lacks (+)",
}

_ERROR_LINE = re.compile(r"[ \t]*[\w.]*(?:Error|Exception|Warning)\b:\s")
_ERROR_WORDS = ("Error", "Exception", "Warning")
_TEST_NAME = re.compile(r"test_\w")
_PROMPT_ONLY = frozenset(
    {
        "asks",
        "prose",
        "distinct_words",
        "length",
        "questions",
        "hedges",
        "decisions",
        "contradictions",
        "features_listed",
        "vague",
        "elsewhere",
        "links",
    }
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Evidence:
    """What was matched, for writing issues and questions (sorted, for determinism)."""

    hedges: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    vague: tuple[str, ...] = ()
    elsewhere: tuple[str, ...] = ()
    asks: tuple[str, ...] = ()
    anchor: str = ""


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


def _anchors(text: Text) -> tuple[dict[str, set[str]], int]:
    """Names of code in the whole text, and how many distinct ones the prose names.

    The prose and the code are read apart and the kinds joined: the same names as
    reading the whole text at once (names are whitespace-separated tokens), with
    the count of those the reporter points at (``_reasoning.pointed_names``).
    """
    prose_tokens = set(text.prose.split())
    anchors = find_anchors(text.prose, prose_tokens)
    named = pointed_names(anchors)
    if text.code:
        # A word classified in the prose is not classified again (names per word are a
        # function of the word); the code's own patterns (backticks, lines) still run.
        for kind, found in find_anchors(text.code, set(text.code.split()) - prose_tokens).items():
            anchors[kind] |= found
    return anchors, named


def _location(anchors: dict[str, set[str]]) -> float:
    if any(anchors[k] for k in LOCATION_KINDS):
        return 1.0
    return 0.8 if any(anchors[k] for k in ANCHOR_KINDS) else 0.0


def _text_features(text: Text) -> tuple[dict[str, float], Evidence]:
    """Features of one normalised text, and the evidence behind the negative ones."""
    scan = scan_prose(text.prose)
    cues = scan.cues
    anchors, named = _anchors(text)
    words = scan.words.union(text.code.lower().split())
    prose_words = len(scan.words)
    failure = bool(cues["failure"] or anchors["error_name"])
    desired = desired_stated(cues, scan.behaviour)
    goal = scan.asks or scan.behaviour or cues["request"] or cues["expected"] or cues["proposal"]
    # A sentence needs only a few function words; asking for more would punish terse text.
    needed = max(1.0, min(4.0, 0.2 * len(words)))
    evidence = Evidence(
        hedges=tuple(sorted(cues["hedge"])),
        decisions=tuple(sorted(cues["decision"])),
        vague=tuple(sorted(cues["vague"])),
        elsewhere=tuple(sorted(cues["elsewhere"])),
        asks=tuple(sorted(f"{verb} {obj}".strip() for verb, obj in scan.asks)),
        anchor=quotable_name(anchors, text.code),
    )
    features = {
        "distinct_words": float(len(words)),
        "length": explained(prose_words),
        "prose": min(1.0, len(scan.words & FUNCTION_WORDS) / needed),
        "goal": 1.0 if goal else (0.8 if failure else 0.0),
        "asks": float(len(scan.asks)),
        "anchors": float(sum(len(anchors[k]) for k in ANCHOR_KINDS)),
        "named": float(named),
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
        "desired": 1.0 if desired else 0.0,
        "only_observed": 1.0 if failure and not desired else 0.0,
        "grounded": float(grounded_names(anchors, scan.words, text.code)),
        "features_listed": float(listed_features(text.prose, scan.words)),
        "comparative": 1.0 if cues["comparative"] else 0.0,
        "proposal": 1.0 if cues["proposal"] else 0.0,
        "tests": 1.0 if cues["tests"] or _names_test(text.full) else 0.0,
        "bounds": 1.0 if cues["bound"] else 0.0,
        "constraints": float(len(cues["constraint"])),
        "rationale": 1.0 if cues["rationale"] else 0.0,
        "diagnosis": 1.0 if cues["diagnosis"] else 0.0,
        "hedges": float(len(cues["hedge"])),
        "decisions": float(len(cues["decision"])),
        "contradictions": float(len(cues["contradiction"])),
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
            added = set(tokens(ctx.full)) - own - FUNCTION_WORDS - SEPARATORS
            features["context_words"] = float(len(added))
    return features, evidence


def extract_features(prompt: str, context: str | None = None) -> dict[str, float]:
    """The raw features of ``prompt`` in context (see ``FEATURE_DOCS``)."""
    return extract(prompt, context)[0]
