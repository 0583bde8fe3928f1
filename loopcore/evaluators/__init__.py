"""Deterministic evaluators and the factory that builds them from JSON specs.

The evaluator classes and the factory are imported on first access (a module
``__getattr__``): the server imports this package at start-up for ``attempt`` (the
evaluation pool), and the factory, the evaluators, their spec models, ``regex`` and
``jsonschema`` are only needed once a spec arrives (``build_evaluator`` loads them then).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from loopcore.evaluators._budget import AttemptExpired, attempt
from loopcore.evaluators.base import EvalContext, Evaluation, Evaluator

if TYPE_CHECKING:
    from loopcore.evaluators.command import CommandEvaluator
    from loopcore.evaluators.completeness import Aspect, CompletenessEvaluator
    from loopcore.evaluators.composite import CompositeEvaluator, ThresholdEvaluator
    from loopcore.evaluators.evidence import PRESETS, EvidenceEvaluator
    from loopcore.evaluators.factory import (
        FactoryOptions,
        build_evaluator,
        evaluator_types,
        in_memory,
        register_evaluator,
        validate_spec,
    )
    from loopcore.evaluators.json_schema import JsonSchemaEvaluator
    from loopcore.evaluators.text import LengthEvaluator, RegexEvaluator

__all__ = [
    "PRESETS",
    "Aspect",
    "AttemptExpired",
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
    "attempt",
    "build_evaluator",
    "evaluator_types",
    "in_memory",
    "register_evaluator",
    "validate_spec",
]

# Name -> the module (in this package) that defines it.
_LAZY = {
    "PRESETS": "evidence",
    "Aspect": "completeness",
    "CommandEvaluator": "command",
    "CompletenessEvaluator": "completeness",
    "CompositeEvaluator": "composite",
    "EvidenceEvaluator": "evidence",
    "FactoryOptions": "factory",
    "JsonSchemaEvaluator": "json_schema",
    "LengthEvaluator": "text",
    "RegexEvaluator": "text",
    "ThresholdEvaluator": "composite",
    "build_evaluator": "factory",
    "evaluator_types": "factory",
    "in_memory": "factory",
    "register_evaluator": "factory",
    "validate_spec": "factory",
}


def __getattr__(name: str) -> object:
    """An evaluator class (or ``PRESETS``), imported on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
