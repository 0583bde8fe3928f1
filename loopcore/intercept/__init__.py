"""The prompt-quality scorer behind ``intercept``.

``score_prompt`` reads features of a request (what is asked and where, what
happens against what should, a reproduction, the error, versions, acceptance
criteria, constraints, hedging, open questions, several asks in one), folds
them into six dimension scores by fixed reasoning, and weighs the dimensions
with the few numbers set from labelled issues (``calibration.json``). The
model judge is optional: ``rubric_messages`` -> the host's model ->
``parse_rubric`` -> ``combine_with_judge``.
"""

from __future__ import annotations

from loopcore.intercept.advice import BLANKS
from loopcore.intercept.calibration import Calibration, load_calibration
from loopcore.intercept.dimensions import DIMENSIONS
from loopcore.intercept.judge import (
    RubricVerdict,
    combine_with_judge,
    parse_rubric,
    rubric_messages,
)
from loopcore.intercept.results import PromptScore, Question, Route, SuggestedLoopConfig
from loopcore.intercept.scorer import fold_answers, prompt_hash, score_prompt

__all__ = [
    "BLANKS",
    "DIMENSIONS",
    "Calibration",
    "PromptScore",
    "Question",
    "Route",
    "RubricVerdict",
    "SuggestedLoopConfig",
    "combine_with_judge",
    "fold_answers",
    "load_calibration",
    "parse_rubric",
    "prompt_hash",
    "rubric_messages",
    "score_prompt",
]
