"""Deterministic evaluators and the factory that builds them from JSON specs."""

from __future__ import annotations

from loopcore.evaluators.base import EvalContext, Evaluation, Evaluator

__all__ = ["EvalContext", "Evaluation", "Evaluator"]
