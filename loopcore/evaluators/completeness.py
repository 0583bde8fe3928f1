"""Required aspects, covered with real content rather than echoed."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from loopcore.evaluators._patterns import TimedPattern
from loopcore.evaluators._words import Tokens, is_content, stems_of, tokenize
from loopcore.evaluators.base import EvalContext, Evaluation

__all__ = ["Aspect", "CompletenessEvaluator", "aspects_from"]

WINDOW = 12  # tokens on each side of an aspect's mention that count as "near"
MIN_NEAR_NOVEL = 3  # distinct new content words needed near a mention
MIN_NOVEL = 4  # distinct new content words needed in the whole output
MIN_NOVEL_RATIO = 0.25  # share of the output's content vocabulary that must be new
NAMED_CREDIT = 0.4  # credit for an aspect named without content around it
_MAX_MENTIONS = 2000


class _Status(Enum):
    COVERED = 1.0
    NAMED = NAMED_CREDIT
    ABSENT = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Aspect:
    """An aspect: its name, and optionally patterns whose match shows it is covered."""

    name: str
    patterns: tuple[TimedPattern, ...] = ()


@dataclass(frozen=True, slots=True)
class _Text:
    tokens: Tokens
    index: dict[str, list[int]]
    vocab: frozenset[str]

    def novel_near(self, lo: int, hi: int) -> int:
        window = self.tokens.stems[max(0, lo - WINDOW) : hi + WINDOW + 1]
        return len({s for s in window if is_content(s) and s not in self.vocab})


def _index(tokens: Tokens) -> dict[str, list[int]]:
    index: dict[str, list[int]] = defaultdict(list)
    for i, token in enumerate(tokens.stems):
        if token:
            index[token].append(i)
    return index


def _soup(output: str, tokens: Tokens) -> bool:
    """Keywords without sentences or code: almost no function words and no punctuation."""
    n = len(tokens.stems)
    if n < 8:
        return False
    sample = output[:200_000]
    symbols = sum(1 for c in sample if not c.isalnum() and not c.isspace())
    return tokens.stopword_count / n < 0.08 and symbols / max(len(sample), 1) < 0.01


@dataclass(frozen=True, kw_only=True)
class CompletenessEvaluator:
    """Every required aspect must be covered by content, not by echo.

    Vocabulary V = the content words (light stems, function words dropped) of
    the goal, the acceptance text and the aspect names. A word is *new* when it
    is content and not in V; repeated words count once.

    An aspect is *covered* when it is mentioned (a phrase aspect: all its terms
    if it has one or two, else at least two thirds of them, within 25 tokens; a
    pattern aspect: one of its patterns matches, time-limited) and that mention
    has at least 3 distinct new words within 12 tokens on either side. A mention
    without them is *named only* (credit 0.4); no mention, credit 0.

    Score = mean credit x novelty x soup, where novelty = min(1, r / 0.25) x
    min(1, N / 4) with N the distinct new words of the whole output and r = N /
    its distinct content words, and soup = 0.5 when the output has 8+ words,
    under 8 % function words and under 1 % punctuation (a keyword list).
    Passes when the covered share >= ``min_coverage``, N >= 4, r >= 0.25 and
    the output is not a keyword list. So the goal echoed back (r = 0) fails.
    """

    aspects: tuple[Aspect, ...]
    min_coverage: float = 1.0

    @property
    def name(self) -> str:
        """The spec type."""
        return "completeness"

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        """Score how completely ``output`` covers the aspects."""
        tokens = tokenize(output)
        text = _Text(tokens, _index(tokens), self._vocab(context))
        deficiencies: list[str] = []
        statuses = [self._status(a, output, text, deficiencies) for a in self.aspects]
        sub_scores = {
            f"aspect:{a.name[:60]}": s.value for a, s in zip(self.aspects, statuses, strict=True)
        }
        coverage = sum(s.value for s in statuses) / len(statuses)
        covered = sum(s is _Status.COVERED for s in statuses) / len(statuses)
        content = {s for s in tokens.stems if is_content(s)}
        novel = len(content - text.vocab)
        ratio = novel / len(content) if content else 0.0
        novelty = min(1.0, ratio / MIN_NOVEL_RATIO) * min(1.0, novel / MIN_NOVEL)
        soup = _soup(output, tokens)
        echo = novel < MIN_NOVEL or ratio < MIN_NOVEL_RATIO
        if echo:
            deficiencies.append(
                f"the output mostly restates the goal and aspects: {novel} new content words "
                f"({ratio:.0%} of its vocabulary); add the actual content"
            )
        if soup:
            deficiencies.append("the output reads as a list of keywords, not sentences or code")
        score = coverage * novelty * (0.5 if soup else 1.0)
        passed = covered >= self.min_coverage - 1e-9 and not echo and not soup
        details = {"covered": covered, "novel_words": novel, "novel_ratio": round(ratio, 4)}
        return Evaluation.of(score, passed, deficiencies, sub_scores=sub_scores, details=details)

    def _vocab(self, context: EvalContext | None) -> frozenset[str]:
        texts: list[str] = [a.name for a in self.aspects]
        if context is not None:
            texts += [t for t in (context.goal, context.acceptance) if t]
        vocab: set[str] = set()
        for t in texts:
            vocab |= stems_of(t)
        return frozenset(vocab)

    def _status(self, aspect: Aspect, output: str, text: _Text, out: list[str]) -> _Status:
        if aspect.patterns:
            status = self._pattern_status(aspect, output, text, out)
        else:
            status = self._phrase_status(aspect, text)
        if status is _Status.ABSENT:
            out.append(f"aspect {aspect.name!r} is not covered")
        elif status is _Status.NAMED:
            out.append(
                f"aspect {aspect.name!r} is only named: add concrete content about it, "
                "not a restatement of the goal"
            )
        return status

    @staticmethod
    def _phrase_status(aspect: Aspect, text: _Text) -> _Status:
        terms = stems_of(aspect.name)
        need = len(terms) if len(terms) <= 2 else math.ceil(2 * len(terms) / 3)
        mentions = sorted(i for t in terms for i in text.index.get(t, ()))[:_MAX_MENTIONS]
        stems = text.tokens.stems
        best = _Status.ABSENT
        for p in mentions:
            lo, hi = max(0, p - WINDOW), p + WINDOW + 1
            if len(terms.intersection(stems[lo:hi])) < need:
                continue
            if text.novel_near(p, p) >= MIN_NEAR_NOVEL:
                return _Status.COVERED
            best = _Status.NAMED
        return best

    @staticmethod
    def _pattern_status(aspect: Aspect, output: str, text: _Text, out: list[str]) -> _Status:
        best = _Status.ABSENT
        starts = text.tokens.starts
        for pattern in aspect.patterns:
            spans, timed_out = pattern.spans(output, limit=50)
            if timed_out:
                out.append(pattern.timeout_text())
            for begin, end in spans:
                lo, hi = bisect_left(starts, begin), bisect_right(starts, max(begin, end - 1))
                if text.novel_near(lo, hi) >= MIN_NEAR_NOVEL:
                    return _Status.COVERED
                best = _Status.NAMED
        return best


def aspects_from(names: Iterable[str]) -> tuple[Aspect, ...]:
    """Phrase aspects from plain names (a convenience for programmatic use)."""
    return tuple(Aspect(name=n) for n in names)
