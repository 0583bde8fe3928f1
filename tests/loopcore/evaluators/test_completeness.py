"""The completeness evaluator: aspects covered by content, never by echo."""

from __future__ import annotations

import pytest

from loopcore.evaluators import build_evaluator
from loopcore.evaluators._words import stem
from loopcore.evaluators.base import EvalContext, Evaluator

GOAL = (
    "Write a Python retry function that retries a callable with exponential backoff, "
    "up to a maximum number of attempts, and re-raises the last exception."
)
ASPECTS = ["exponential backoff", "maximum number of attempts", "re-raises the last exception"]
GOOD = '''def retry(fn, attempts=5, base_delay=0.1):
    """Call fn until it succeeds, sleeping base_delay * 2**i between tries (exponential backoff)."""
    last = None
    for i in range(attempts):  # the maximum number of attempts is `attempts`
        try:
            return fn()
        except Exception as exc:
            last = exc
            time.sleep(base_delay * 2 ** i)
    raise last  # re-raises the last exception once the final attempt failed
'''


def _retry_spec() -> Evaluator:
    return build_evaluator({"type": "completeness", "aspects": ASPECTS})


def test_real_content_covering_every_aspect_passes() -> None:
    """Code that works out each aspect passes with 1.0."""
    result = _retry_spec().evaluate(GOOD, EvalContext(goal=GOAL))
    assert (result.score, result.passed, result.deficiencies) == (1.0, True, ())


def test_goal_echoed_back_does_not_pass() -> None:
    """The goal text itself scores 0.0 and fails."""
    result = _retry_spec().evaluate(GOAL, EvalContext(goal=GOAL))
    assert result.score == 0.0
    assert result.passed is False
    assert any("restates the goal" in d for d in result.deficiencies)


def test_aspects_echoed_with_filler_do_not_pass() -> None:
    """Restating the aspects with a little filler is named-only, and fails."""
    output = "Exponential backoff, maximum number of attempts, re-raises the last exception. Done."
    result = _retry_spec().evaluate(output, EvalContext(goal=GOAL))
    assert result.passed is False
    assert result.score < 0.1


def test_keyword_soup_does_not_pass() -> None:
    """'json json json must should format list table code python' fails a retry spec."""
    output = "json json json must should format list table code python"
    result = _retry_spec().evaluate(output, EvalContext(goal=GOAL))
    assert (result.score, result.passed) == (0.0, False)


def test_aspect_keywords_mixed_with_new_keywords_read_as_a_list() -> None:
    """A punctuation-free list of aspect and other keywords is flagged as keyword soup."""
    output = (
        "exponential backoff maximum number attempts reraises last exception jitter sleep "
        "delay counter loop wrapper decorator callable"
    )
    result = _retry_spec().evaluate(output, EvalContext(goal=GOAL))
    assert result.passed is False
    assert "the output reads as a list of keywords, not sentences or code" in result.deficiencies


def test_missing_aspect_lowers_the_score_and_is_named() -> None:
    """Covering two of three aspects scores 2/3 and names the missing one."""
    output = GOOD.replace("re-raises the last exception once the final attempt failed", "done")
    output = output.replace("raise last", "return None")
    result = _retry_spec().evaluate(output, EvalContext(goal=GOAL))
    assert result.score == pytest.approx(2 / 3)
    assert result.passed is False
    assert "aspect 're-raises the last exception' is not covered" in result.deficiencies


def test_min_coverage_allows_a_partial_pass() -> None:
    """With min_coverage 0.5, two of three covered aspects pass."""
    ev = build_evaluator({"type": "completeness", "aspects": ASPECTS, "min_coverage": 0.5})
    output = GOOD.replace("re-raises the last exception once the final attempt failed", "done")
    output = output.replace("raise last", "return None")
    assert ev.evaluate(output, EvalContext(goal=GOAL)).passed is True


def test_pattern_aspect_is_covered_by_a_match_with_content_around_it() -> None:
    """An aspect defined by patterns counts when a pattern matches real code."""
    ev = build_evaluator(
        {
            "type": "completeness",
            "aspects": [{"name": "backoff", "patterns": [r"sleep\([^)]*\*\*"]}],
        }
    )
    assert ev.evaluate(GOOD).passed is True
    assert ev.evaluate("backoff backoff backoff").passed is False


def test_repeated_words_add_nothing() -> None:
    """Repeating one new word many times does not make an echo pass."""
    output = GOAL + " ok" * 200 + " banana" * 200
    result = _retry_spec().evaluate(output, EvalContext(goal=GOAL))
    assert result.passed is False
    assert dict(result.details)["novel_words"] == 1


def test_acceptance_text_counts_as_echo_vocabulary() -> None:
    """Words of the acceptance text are not new content either."""
    acceptance = "Tests cover the retry limit and the final exception being re-raised."
    ev = build_evaluator({"type": "completeness", "aspects": ["retry limit"]})
    result = ev.evaluate(acceptance, EvalContext(acceptance=acceptance))
    assert result.passed is False


def test_sub_scores_give_each_aspect_its_credit() -> None:
    """Sub-scores are 1.0 per covered aspect and 0.4 per named-only one."""
    output = GOOD + "\nAlso: a circuit breaker."
    ev = build_evaluator(
        {"type": "completeness", "aspects": ["exponential backoff", "circuit breaker"]}
    )
    result = ev.evaluate(output)
    assert dict(result.sub_scores) == {
        "aspect:exponential backoff": 1.0,
        "aspect:circuit breaker": 1.0,
    }
    named = ev.evaluate("circuit breaker. exponential backoff.")
    assert dict(named.sub_scores) == {
        "aspect:exponential backoff": 0.4,
        "aspect:circuit breaker": 0.4,
    }


def test_light_stems_join_word_forms() -> None:
    """retries, retried and retrying share the stem of retry; handle meets handling."""
    assert {stem(w) for w in ("retry", "retries", "retried", "retrying")} == {"retry"}
    assert stem("handle") == stem("handling") == stem("handles")
