"""The model judge's pure pieces: the rubric, its strict parser, and the combination."""

from __future__ import annotations

import json

import pytest

from loopcore.errors import InvalidInput
from loopcore.intercept import (
    RubricVerdict,
    combine_with_judge,
    parse_rubric,
    rubric_messages,
    score_prompt,
)
from loopcore.intercept.judge import RUBRIC

VAGUE = "fix the download bug"
ANSWER = {
    "goal": True,
    "expected_behaviour": False,
    "location": True,
    "acceptance": False,
    "score": 0.4,
    "notes": "No expected behaviour.",
}


def test_rubric_messages_are_the_fixed_rubric_then_the_request() -> None:
    """A system message with the rubric, then the request (and context) as data."""
    messages = rubric_messages(VAGUE, context="repo: loopcore")
    assert [m.role for m in messages] == ["system", "user"]
    assert messages[0].content == RUBRIC
    assert messages[1].content == (
        "Request:\n<<<\nfix the download bug\n>>>\n\n"
        "Context the agent also has:\n<<<\nrepo: loopcore\n>>>"
    )


def test_rubric_messages_without_context_carry_only_the_request() -> None:
    """No context, no context block."""
    assert rubric_messages(VAGUE)[1].content == "Request:\n<<<\nfix the download bug\n>>>"


def test_valid_answer_is_parsed() -> None:
    """The rubric's JSON object becomes a verdict with every field."""
    verdict = parse_rubric(json.dumps(ANSWER))
    assert verdict == RubricVerdict(
        goal=True,
        expected_behaviour=False,
        location=True,
        acceptance=False,
        score=0.4,
        notes="No expected behaviour.",
    )


def test_answer_in_one_fenced_block_is_parsed() -> None:
    """A model that wraps the object in a ```json fence is still understood."""
    text = "```json\n" + json.dumps(ANSWER) + "\n```"
    assert parse_rubric(text).score == 0.4


def test_notes_are_optional() -> None:
    """Without notes the verdict has empty notes."""
    answer = {k: v for k, v in ANSWER.items() if k != "notes"}
    assert parse_rubric(json.dumps(answer)).notes == ""


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("Sure! The request looks fine to me.", "rubric"),
        ("[1, 2, 3]", "rubric"),
        ("", "rubric"),
        ("Here you go: " + json.dumps(ANSWER), "rubric"),
        (json.dumps({**ANSWER, "extra": 1}), "rubric"),
        (json.dumps({**ANSWER, "goal": "yes"}), "rubric.goal"),
        (json.dumps({k: v for k, v in ANSWER.items() if k != "location"}), "rubric.location"),
        (json.dumps({**ANSWER, "score": 1.5}), "rubric.score"),
        (json.dumps({**ANSWER, "score": True}), "rubric.score"),
        (json.dumps({**ANSWER, "score": "0.4"}), "rubric.score"),
        (json.dumps({**ANSWER, "notes": 3}), "rubric.notes"),
        ('{"goal": true, "score": NaN}', "rubric.expected_behaviour"),
        ("x" * 9000, "rubric"),
    ],
)
def test_anything_but_the_rubric_format_is_invalid(text: str, field: str) -> None:
    """Prose, other JSON, wrong types, missing or extra keys, out-of-range scores: InvalidInput."""
    with pytest.raises(InvalidInput) as info:
        parse_rubric(text)
    assert info.value.field == field


def test_nan_score_is_invalid() -> None:
    """A NaN score is refused even when every other field is right."""
    text = json.dumps(ANSWER).replace("0.4", "NaN")
    with pytest.raises(InvalidInput) as info:
        parse_rubric(text)
    assert info.value.field == "rubric.score"


def test_combining_a_confident_judge_raises_the_score_and_marks_it_model() -> None:
    """A judge that finds every item met lifts the score; the result says a model ran."""
    heuristic = score_prompt(VAGUE)
    verdict = RubricVerdict(
        goal=True, expected_behaviour=True, location=True, acceptance=True, score=1.0
    )
    combined = combine_with_judge(heuristic, verdict)
    assert combined.score == pytest.approx(0.5 * heuristic.score + 0.5 * 1.0)
    assert combined.judge == "model"
    assert "combined at model weight 0.50" in combined.judge_note
    assert combined.dimensions == heuristic.dimensions


def test_combining_adds_the_blanks_the_judge_found() -> None:
    """Items the judge marks missing become an issue and top-valued questions."""
    heuristic = score_prompt("add retry with backoff to download(); raise after 3 tries")
    verdict = parse_rubric(json.dumps(ANSWER))
    combined = combine_with_judge(heuristic, verdict, weight=0.8)
    assert combined.issues[-1] == "The model judge found no stated expected behaviour, acceptance."
    blanks = [q.blank for q in combined.questions]
    assert {"expected_behaviour", "acceptance_criteria"} <= set(blanks)
    assert combined.judge_note.endswith(": No expected behaviour.")
    values = [q.value for q in combined.questions]
    assert values == sorted(values, reverse=True)


def test_weight_zero_keeps_the_heuristic_score() -> None:
    """At weight 0 the score is the heuristic's, though the judge is recorded."""
    heuristic = score_prompt(VAGUE)
    combined = combine_with_judge(heuristic, parse_rubric(json.dumps(ANSWER)), weight=0.0)
    assert (combined.score, combined.grade, combined.judge) == (
        heuristic.score,
        heuristic.grade,
        "model",
    )


def test_judge_without_a_goal_routes_to_clarify() -> None:
    """A judge that finds no goal sends even a decent prompt to clarify."""
    heuristic = score_prompt("add retry with backoff to download(); raise after 3 tries")
    verdict = RubricVerdict(
        goal=False, expected_behaviour=True, location=True, acceptance=True, score=0.9
    )
    assert combine_with_judge(heuristic, verdict).route == "clarify"


@pytest.mark.parametrize("weight", [-0.1, 1.1, float("nan"), float("inf")])
def test_weight_outside_zero_one_is_invalid(weight: float) -> None:
    """Weights outside [0, 1] are refused naming the field."""
    with pytest.raises(InvalidInput) as info:
        combine_with_judge(score_prompt(VAGUE), parse_rubric(json.dumps(ANSWER)), weight)
    assert info.value.field == "weight"


def test_combining_twice_is_refused() -> None:
    """A score already combined with a judge cannot be combined again."""
    once = combine_with_judge(score_prompt(VAGUE), parse_rubric(json.dumps(ANSWER)))
    with pytest.raises(InvalidInput) as info:
        combine_with_judge(once, parse_rubric(json.dumps(ANSWER)))
    assert info.value.field == "heuristic"
