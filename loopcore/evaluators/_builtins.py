"""Builders of the built-in evaluator types (the factory registers them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from loopcore.evaluators._patterns import compile_all
from loopcore.evaluators.base import Evaluator
from loopcore.evaluators.command import build_command
from loopcore.evaluators.completeness import Aspect, CompletenessEvaluator
from loopcore.evaluators.evidence import PRESETS, EvidenceEvaluator
from loopcore.evaluators.options import FactoryOptions
from loopcore.evaluators.specs import (
    CommandSpec,
    CompletenessSpec,
    EvidenceSpec,
    JsonSchemaSpec,
    LengthSpec,
    RegexSpec,
)
from loopcore.evaluators.text import LengthEvaluator, RegexEvaluator

__all__ = ["BUILTINS"]


def _regex(spec: RegexSpec, options: FactoryOptions) -> Evaluator:
    t = options.regex_timeout_s
    return RegexEvaluator(
        required=compile_all(spec.required, t, spec.flags),
        forbidden=compile_all(spec.forbidden, t, spec.flags),
    )


def _json_schema(spec: JsonSchemaSpec, options: FactoryOptions) -> Evaluator:
    # Imported here: jsonschema costs ~0.1 s at start-up and only json_schema specs need it.
    from loopcore.evaluators.json_schema import JsonSchemaEvaluator

    return JsonSchemaEvaluator(schema=spec.json_schema, regex_timeout_s=options.regex_timeout_s)


def _length(spec: LengthSpec, options: FactoryOptions) -> Evaluator:
    return LengthEvaluator(
        min_words=spec.min_words,
        max_words=spec.max_words,
        min_chars=spec.min_chars,
        max_chars=spec.max_chars,
    )


def _completeness(spec: CompletenessSpec, options: FactoryOptions) -> Evaluator:
    aspects = tuple(
        Aspect(name=a.name, patterns=compile_all(a.patterns, options.regex_timeout_s))
        for a in spec.aspects
    )
    return CompletenessEvaluator(aspects=aspects, min_coverage=spec.min_coverage)


def _evidence(spec: EvidenceSpec, options: FactoryOptions) -> Evaluator:
    t = options.regex_timeout_s
    proof = list(spec.proof)
    counter = list(spec.counter)
    if spec.preset is not None:
        preset = PRESETS[spec.preset]
        proof += preset.proof
        counter += preset.counter
    return EvidenceEvaluator(
        proof=compile_all(proof, t, spec.flags),
        counter=compile_all(counter, t, spec.flags),
        require=spec.require,
    )


BUILTINS: tuple[tuple[str, type[BaseModel], Callable[[Any, FactoryOptions], Evaluator]], ...] = (
    ("command", CommandSpec, build_command),
    ("completeness", CompletenessSpec, _completeness),
    ("evidence", EvidenceSpec, _evidence),
    ("json_schema", JsonSchemaSpec, _json_schema),
    ("length", LengthSpec, _length),
    ("regex", RegexSpec, _regex),
)
