"""``score_prompt`` and its companions: the pure, deterministic core of ``intercept``."""

from __future__ import annotations

from collections.abc import Mapping

from loopcore.errors import InvalidInput
from loopcore.intercept._text import normalise_for_hash, sha256_hex
from loopcore.intercept.advice import BLANKS, find_blanks, route_for, suggest_config
from loopcore.intercept.calibration import load_calibration
from loopcore.intercept.dimensions import compute_dimensions, grade_for, overall
from loopcore.intercept.features import extract
from loopcore.intercept.results import PromptScore

__all__ = ["fold_answers", "prompt_hash", "score_prompt"]


def score_prompt(prompt: str, context: str | None = None) -> PromptScore:
    """Score how actionable ``prompt`` is, with the blanks found and the questions that fill them.

    Pure and deterministic: the same text gives the same result. Repeating a
    word or a sentence, or a context that echoes the prompt, does not raise
    the score.

    Args:
        prompt: the request as the agent received it.
        context: what else the agent is told (task title, plan goal, files);
            counts only for what it adds to the prompt.

    Raises:
        InvalidInput: ``prompt`` or ``context`` is not a string.
    """
    if not isinstance(prompt, str):
        raise InvalidInput("must be a string", field="prompt")
    if context is not None and not isinstance(context, str):
        raise InvalidInput("must be a string or null", field="context")
    features, evidence = extract(prompt, context)
    dims = compute_dimensions(features)
    weights = load_calibration().weights
    score = overall(dims, features, weights)
    issues, questions = find_blanks(features, dims, weights, evidence)
    return PromptScore(
        score=score,
        grade=grade_for(score),
        dimensions=dims,
        issues=issues,
        questions=questions,
        route=route_for(features, score),
        suggested_config=suggest_config(score, dims),
        features=features,
    )


def fold_answers(prompt: str, answers: Mapping[str, str]) -> str:
    """Append answers to clarifying questions to ``prompt``, one labelled paragraph each.

    Answers are keyed by ``Question.blank`` and appended in a fixed order;
    blank answers are skipped, so folding nothing returns the prompt as is.

    Raises:
        InvalidInput: a key that is not a known blank, or an answer that is not text.
    """
    for blank, answer in answers.items():
        if blank not in BLANKS:
            raise InvalidInput(
                f"unknown blank; expected one of {list(BLANKS)}", field=f"answers.{blank}"
            )
        if not isinstance(answer, str):
            raise InvalidInput("must be a string", field=f"answers.{blank}")
    parts = [
        f"{label}: {' '.join(answers[blank].split())}"
        for blank, label in BLANKS.items()
        if blank in answers and answers[blank].strip()
    ]
    if not parts:
        return prompt
    return "\n\n".join([prompt.rstrip(), *parts])


def prompt_hash(prompt: str) -> str:
    """SHA-256 hex of the normalised prompt (NFKC, whitespace collapsed, stripped)."""
    return sha256_hex(normalise_for_hash(prompt))
