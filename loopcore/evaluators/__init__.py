"""Deterministic evaluators and the factory that builds them from JSON specs.

The evaluator classes and the factory are imported on first access (a module
``__getattr__``): the server imports this package at start-up for ``attempt`` (the
evaluation pool), and the factory, the evaluators, their spec models, ``regex`` and
``jsonschema`` are only needed once a spec arrives (``build_evaluator`` loads them then).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopcore._lazy import lazy_names
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
    "PRESETS": f"{__name__}.evidence",
    "Aspect": f"{__name__}.completeness",
    "CommandEvaluator": f"{__name__}.command",
    "CompletenessEvaluator": f"{__name__}.completeness",
    "CompositeEvaluator": f"{__name__}.composite",
    "EvidenceEvaluator": f"{__name__}.evidence",
    "FactoryOptions": f"{__name__}.factory",
    "JsonSchemaEvaluator": f"{__name__}.json_schema",
    "LengthEvaluator": f"{__name__}.text",
    "RegexEvaluator": f"{__name__}.text",
    "ThresholdEvaluator": f"{__name__}.composite",
    "build_evaluator": f"{__name__}.factory",
    "evaluator_types": f"{__name__}.factory",
    "in_memory": f"{__name__}.factory",
    "register_evaluator": f"{__name__}.factory",
    "validate_spec": f"{__name__}.factory",
}


__getattr__ = lazy_names(globals(), _LAZY)  # an evaluator class, the factory, ``PRESETS``
