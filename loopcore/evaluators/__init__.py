"""Deterministic evaluators and the factory that builds them from JSON specs."""

from __future__ import annotations

from loopcore.evaluators.base import EvalContext, Evaluation, Evaluator
from loopcore.evaluators.command import CommandEvaluator
from loopcore.evaluators.completeness import Aspect, CompletenessEvaluator
from loopcore.evaluators.composite import CompositeEvaluator, ThresholdEvaluator
from loopcore.evaluators.evidence import PRESETS, EvidenceEvaluator
from loopcore.evaluators.factory import (
    FactoryOptions,
    build_evaluator,
    evaluator_types,
    register_evaluator,
    validate_spec,
)
from loopcore.evaluators.json_schema import JsonSchemaEvaluator
from loopcore.evaluators.text import LengthEvaluator, RegexEvaluator

__all__ = [
    "PRESETS",
    "Aspect",
    "CommandEvaluator",
    "CompletenessEvaluator",
    "CompositeEvaluator",
    "EvalContext",
    "Evaluation",
    "Evaluator",
    "EvidenceEvaluator",
    "FactoryOptions",
    "JsonSchemaEvaluator",
    "LengthEvaluator",
    "RegexEvaluator",
    "ThresholdEvaluator",
    "build_evaluator",
    "evaluator_types",
    "register_evaluator",
    "validate_spec",
]
