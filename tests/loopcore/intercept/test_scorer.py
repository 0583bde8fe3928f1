"""score_prompt: padding never pays, precise beats vague, and the output is shaped as promised."""

from __future__ import annotations

import pytest

from loopcore.errors import InvalidInput
from loopcore.intercept import BLANKS, DIMENSIONS, score_prompt

SOUP = "json json json must should format list table code python"
PRECISE = "add retry with backoff to download(); raise after 3 tries"
BUG = (
    "Fix the crash in parse_config() in src/app/config.py: loading an empty file raises "
    "KeyError instead of returning the defaults. It should return DEFAULTS unchanged."
)


def test_keyword_soup_scores_low_and_asks_for_clarification() -> None:
    """Keyword soup grades D or F and routes to clarify."""
    result = score_prompt(SOUP)
    assert result.grade in ("D", "F")
    assert result.route == "clarify"
    assert result.questions[0].blank == "goal"


def test_precise_one_liner_scores_b_or_better() -> None:
    """A precise short request grades A or B and proceeds."""
    result = score_prompt(PRECISE)
    assert result.grade in ("A", "B")
    assert result.route == "proceed"


def test_precise_request_beats_keyword_soup_clearly() -> None:
    """The precise request scores at least 0.3 above the soup."""
    assert score_prompt(PRECISE).score - score_prompt(SOUP).score >= 0.3


@pytest.mark.parametrize("prompt", [PRECISE, BUG, SOUP, "fix the download bug"])
@pytest.mark.parametrize("word_index", [0, 2, -1])
def test_repeating_a_word_fifty_times_does_not_raise_the_score(
    prompt: str, word_index: int
) -> None:
    """A word repeated 50 times in place never scores higher than the prompt itself."""
    words = prompt.split()
    word = words[word_index]
    words[word_index] = " ".join([word] * 50)
    assert score_prompt(" ".join(words)).score <= score_prompt(prompt).score


@pytest.mark.parametrize("prompt", [PRECISE, BUG, "fix the download bug"])
def test_appending_a_repeated_word_does_not_raise_the_score(prompt: str) -> None:
    """A prompt followed by one of its own words 50 times scores no higher."""
    padded = prompt + "\n" + " ".join([prompt.split()[1]] * 50)
    assert score_prompt(padded).score <= score_prompt(prompt).score


def test_title_echoed_in_the_prompt_does_not_raise_the_score() -> None:
    """The title said again at the end of the prompt changes nothing."""
    title = "Retry downloads with backoff"
    prompt = f"{title}\n{PRECISE}"
    assert score_prompt(f"{prompt}\n{title}").score <= score_prompt(prompt).score
    assert score_prompt(f"{title}\n{title}").score <= score_prompt(title).score


def test_title_echoed_as_context_does_not_raise_the_score() -> None:
    """A context that only repeats the prompt's title adds nothing."""
    title = "Retry downloads with backoff"
    prompt = f"{title}\n{PRECISE}"
    assert score_prompt(prompt, context=title).score == score_prompt(prompt).score
    assert score_prompt(title, context=title).score == score_prompt(title).score


def test_context_that_adds_facts_can_raise_the_score() -> None:
    """A context naming the file and version adds what the prompt lacks."""
    prompt = "fix the download bug"
    context = "The bug is in src/net/download.py on Python 3.11.4; see test_download_retry."
    assert score_prompt(prompt, context=context).score > score_prompt(prompt).score


def test_vague_request_scores_lower_than_a_specified_bug_report() -> None:
    """A hedged, placeless request scores below a report with place and expectation."""
    vague = "maybe make the app better somehow, something like faster loading etc"
    assert score_prompt(vague).score < score_prompt(BUG).score


def test_hedges_lower_the_clarity_dimension() -> None:
    """Adding 'maybe' and 'I think' lowers clarity (higher means clearer)."""
    hedged = "I think we should maybe add retry with backoff to download(); raise after 3 tries"
    assert score_prompt(hedged).dimensions["clarity"] < score_prompt(PRECISE).dimensions["clarity"]


def test_dimensions_are_the_six_named_ones_in_range() -> None:
    """Every result carries exactly the six dimensions, each in [0, 1]."""
    dims = score_prompt(BUG).dimensions
    assert tuple(dims) == DIMENSIONS
    assert all(0.0 <= v <= 1.0 for v in dims.values())


def test_reproducibility_is_not_a_blank_for_a_feature_request() -> None:
    """A feature request is not asked for a reproduction; its value is read from evidence."""
    result = score_prompt(PRECISE)
    assert "reproduction" not in {q.blank for q in result.questions}
    # The bound ("after 3 tries") and the named function are evidence; no free 1.0.
    assert 0.0 < result.dimensions["reproducibility"] < 1.0


def test_failure_without_reproduction_asks_how_to_reproduce() -> None:
    """A failure reported with no steps or code gets the reproduction question."""
    result = score_prompt("the export crashes sometimes, please fix")
    assert "reproduction" in {q.blank for q in result.questions}
    assert result.dimensions["reproducibility"] < 0.5


def test_questions_are_tied_to_known_blanks_and_ranked() -> None:
    """Each question fills a known blank, once, and they come best first."""
    questions = score_prompt("fix the download bug").questions
    assert questions
    assert all(q.blank in BLANKS for q in questions)
    assert len({q.blank for q in questions}) == len(questions)
    values = [q.value for q in questions]
    assert values == sorted(values, reverse=True)
    assert all(0.0 <= v <= 1.0 for v in values)


def test_each_issue_is_one_sentence() -> None:
    """Issues are non-empty single sentences."""
    issues = score_prompt("fix the download bug").issues
    assert issues
    assert all(i.endswith(".") and i.count(". ") == 0 for i in issues)


def test_a_question_quotes_the_named_function() -> None:
    """The expected-behaviour question names the function the request mentions."""
    result = score_prompt("the parse_config() helper crashes on empty files")
    texts = [q.text for q in result.questions if q.blank == "expected_behaviour"]
    assert texts == [
        "What should `parse_config()` do instead of failing: which return value, output or "
        "error is correct?"
    ]


def test_several_independent_asks_route_to_decompose() -> None:
    """Four unrelated asks in one prompt route to decompose, scope question first."""
    prompt = (
        "Add a login page. Fix the flaky test in tests/test_api.py. "
        "Rename utils.py to helpers.py. Also update the README."
    )
    result = score_prompt(prompt)
    assert result.route == "decompose"
    assert result.features["asks"] >= 3
    assert result.questions[0].blank == "scope"


def test_vaguer_requests_get_more_iterations() -> None:
    """The suggested loop has more iterations for the soup than for the precise request."""
    soup = score_prompt(SOUP).suggested_config
    precise = score_prompt(PRECISE).suggested_config
    assert soup.max_iterations > precise.max_iterations
    assert 2 <= precise.max_iterations <= 8
    assert 0.7 <= soup.quality_threshold <= 0.85


def test_empty_prompt_is_an_f_with_the_goal_question() -> None:
    """An empty prompt scores F, says so, and asks for the goal."""
    result = score_prompt("   ")
    assert result.grade == "F"
    assert result.issues[0] == "The request is empty."
    assert result.questions[0].blank == "goal"


def test_scoring_is_deterministic() -> None:
    """The same text gives an equal result."""
    assert score_prompt(BUG) == score_prompt(BUG)


def test_default_judge_is_the_heuristic() -> None:
    """score_prompt never claims a model judged it."""
    result = score_prompt(BUG)
    assert (result.judge, result.judge_note) == ("heuristic", "")


def test_non_string_prompt_is_invalid_input() -> None:
    """A prompt that is not text is rejected naming the field."""
    with pytest.raises(InvalidInput) as info:
        score_prompt(42)  # type: ignore[arg-type]
    assert info.value.field == "prompt"


def test_substance_behind_a_link_lowers_the_score_and_asks_for_it() -> None:
    """Pointing to a page instead of saying what it says scores lower, and asks what it says."""
    said = "Make download() retry 3 times with backoff, then raise DownloadError."
    linked = f"{said} Details in https://example.org/wiki/retries"
    result = score_prompt(linked)
    assert result.score < score_prompt(said).score
    assert "background" in [q.blank for q in result.questions]
    assert any("links to 1 page" in issue for issue in result.issues)
