"""JSON Schema (Draft 2020-12) applied to the JSON found in an output."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import regex
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.exceptions import Unresolvable

from loopcore.errors import InvalidInput
from loopcore.evaluators import _budget
from loopcore.evaluators._patterns import compiled
from loopcore.evaluators._schema_refs import outside_reference
from loopcore.evaluators.base import EvalContext, Evaluation

__all__ = ["JsonSchemaEvaluator", "extract_json"]

MAX_ERRORS = 50
_SHOWN_ERRORS = 10
# Our own pattern, not a user's: linear, so the stdlib engine is fine here.
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)```", re.DOTALL)


class _NoJson(Exception):
    """No JSON could be taken from the output; the message says why."""


def extract_json(output: str) -> Any:
    """The JSON in ``output``: the whole text, else the first ```json or bare fenced block.

    Raises:
        _NoJson: when neither parses (the message is a deficiency).
    """
    try:
        return json.loads(output)
    except (ValueError, RecursionError):
        pass
    for match in _FENCE.finditer(output):
        if match.group(1).lower() not in ("", "json"):
            continue
        try:
            return json.loads(match.group(2))
        except RecursionError:
            raise _NoJson("the first JSON fenced block is nested too deeply to parse") from None
        except ValueError as exc:
            raise _NoJson(f"the first JSON fenced block is not valid JSON: {exc}") from None
    raise _NoJson("no JSON found: the output is not JSON and has no ```json fenced block")


def _compiled(source: str) -> regex.Pattern[str] | None:
    """A schema pattern compiled through the size-bounded cache; None when it is invalid."""
    try:
        return compiled(source)
    except regex.error:
        return None


def _search(pattern: regex.Pattern[str], text: str, timeout_s: float) -> bool | None:
    """Whether ``pattern`` matches ``text``; None when its own time limit was hit.

    Raises:
        BudgetExceeded: the evaluation's budget ran out first.
    """
    found, cut = _budget.timed(lambda t: pattern.search(text, timeout=t), timeout_s)
    return None if cut else found is not None


def _canonical(value: Any) -> Any:
    """A hashable form of JSON data, equal exactly when JSON Schema calls two values equal.

    Object key order does not matter, array order does, ``1`` equals ``1.0``, and
    ``true`` is not ``1``.
    """
    if isinstance(value, dict):
        return ("o", frozenset((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("a", tuple(_canonical(v) for v in value))
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    return ("s", value) if isinstance(value, str) else ("z", value)


def _unique_items(
    validator: Any, unique: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """``uniqueItems`` in linear time (jsonschema's compares pairs of objects: quadratic)."""
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: dict[Any, int] = {}
    for index, item in enumerate(instance):
        if index % 512 == 0:
            _budget.check()
        first = seen.setdefault(_canonical(item), index)
        if first != index:
            yield ValidationError(f"items {first} and {index} are equal; items must be unique")
            return


def _checked(keyword: Any) -> Any:
    """The keyword function, checking the evaluation's budget before each application."""

    def apply(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
        _budget.check()
        return keyword(validator, value, instance, schema)

    return apply


class _TimedKeywords:
    """``pattern`` and ``patternProperties`` on time-limited ``regex`` instead of ``re``."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def _search(self, source: str, text: str) -> bool | None:
        """Whether ``source`` matches ``text``; None when the time limit was hit."""
        pattern = _compiled(source)
        return False if pattern is None else _search(pattern, text, self.timeout_s)

    def _timed_out(self, source: str) -> ValidationError:
        return ValidationError(f"pattern {source!r} timed out after {self.timeout_s:g} s")

    def pattern(
        self, validator: Any, patrn: str, instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        if not validator.is_type(instance, "string"):
            return
        found = self._search(patrn, instance)
        if found is None:
            yield self._timed_out(patrn)
        elif not found:
            yield ValidationError(f"{instance[:80]!r} does not match {patrn!r}")

    def pattern_properties(
        self, validator: Any, pp: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        if not validator.is_type(instance, "object"):
            return
        for patrn, subschema in pp.items():
            for key, value in instance.items():
                found = self._search(patrn, key)
                if found is None:
                    yield self._timed_out(patrn)
                elif found:
                    yield from validator.descend(value, subschema, path=key, schema_path=patrn)


@lru_cache(maxsize=8)
def _timed_validator_class(timeout_s: float) -> type[Validator]:
    """Draft 2020-12 with its regex keywords time-limited and every keyword under the budget."""
    keywords = _TimedKeywords(timeout_s)
    own = {
        **Draft202012Validator.VALIDATORS,
        "pattern": keywords.pattern,
        "patternProperties": keywords.pattern_properties,
        "uniqueItems": _unique_items,
    }
    extended = validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {name: _checked(fn) for name, fn in own.items()}
    )
    return cast("type[Validator]", extended)


def _property_patterns(schema: Any) -> frozenset[str]:
    """Every ``patternProperties`` key anywhere in the schema (over-collecting is harmless)."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            pp = node.get("patternProperties")
            if isinstance(pp, dict):
                found.update(k for k in pp if isinstance(k, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(found)


def _object_keys(instance: Any, limit: int = 10_000) -> set[str]:
    keys: set[str] = set()
    stack = [instance]
    while stack and len(keys) < limit:
        node = stack.pop()
        if isinstance(node, dict):
            keys.update(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return keys


@dataclass(frozen=True, kw_only=True)
class JsonSchemaEvaluator:
    """Validates the output's JSON against a Draft 2020-12 schema.

    The JSON is the whole output if it parses, else the first fenced block
    tagged ``json`` or untagged. Formats are annotations only (no format checker).
    Score = 1.0 when valid; 1 / (1 + n) with n schema errors (n counted up to 50,
    so one error scores 0.5, three 0.25); 0.0 when no JSON is found, or when a
    schema ``pattern`` times out before validation can finish. Deficiencies name
    the failing path, e.g. "$.items[2].name: 'x' is not of type 'integer'".

    References stay inside the schema (``_schema_refs``): one that points
    elsewhere is refused when the evaluator is built, and none is ever fetched.
    Every keyword runs under the evaluation's time budget (``_budget``);
    ``uniqueItems`` is checked in linear time.

    Raises:
        InvalidInput: a ``$ref`` or ``$dynamicRef`` points outside the schema.
    """

    schema: Mapping[str, Any] | bool
    regex_timeout_s: float = 0.5
    _validator: Validator = field(init=False, repr=False, compare=False)
    _key_patterns: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        outside = outside_reference(self.schema)
        if outside is not None:
            raise InvalidInput(
                f"the schema's {outside} points outside the schema; references may only "
                "name this schema's own parts (#/$defs/..., or an $id declared inside it): "
                "nothing is fetched",
                field="schema",
            )
        cls = _timed_validator_class(self.regex_timeout_s)
        # An empty registry with no retrieve: a reference the schema does not hold
        # cannot be resolved, never fetched (the default registry fetches URLs).
        object.__setattr__(self, "_validator", cls(self.schema, registry=Registry()))
        object.__setattr__(self, "_key_patterns", _property_patterns(self.schema))

    @property
    def name(self) -> str:
        """The spec type."""
        return "json_schema"

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        """Score the JSON in ``output``."""
        try:
            instance = extract_json(output)
        except _NoJson as exc:
            return Evaluation.of(0.0, False, [str(exc)])
        timed_out = self._key_timeout(instance)
        if timed_out is not None:
            return Evaluation.of(0.0, False, [timed_out])
        try:
            errors = self._errors(instance)
        except Unresolvable as exc:
            return Evaluation.of(0.0, False, [f"schema reference cannot be resolved: {exc}"])
        except RecursionError:
            return Evaluation.of(0.0, False, ["the JSON is nested too deeply to validate"])
        if not errors:
            return Evaluation.of(1.0, True)
        shown = [f"{e.json_path}: {e.message[:200]}" for e in errors[:_SHOWN_ERRORS]]
        if len(errors) > _SHOWN_ERRORS:
            more = "at least " if len(errors) >= MAX_ERRORS else ""
            shown.append(f"{more}{len(errors) - _SHOWN_ERRORS} more schema errors")
        return Evaluation.of(1.0 / (1 + len(errors)), False, shown, details={"errors": len(errors)})

    def _errors(self, instance: Any) -> list[ValidationError]:
        errors: list[ValidationError] = []
        for error in self._validator.iter_errors(instance):
            errors.append(error)
            if len(errors) >= MAX_ERRORS:
                break
        return errors

    def _key_timeout(self, instance: Any) -> str | None:
        """Screen object keys against ``patternProperties`` with the time limit.

        jsonschema matches those patterns with the stdlib ``re`` (no time limit)
        inside ``additionalProperties`` and ``unevaluatedProperties``; trying
        each key once here first with ``regex`` catches catastrophic patterns.
        """
        if not self._key_patterns:
            return None
        keys = _object_keys(instance)
        for source in sorted(self._key_patterns):
            pattern = _compiled(source)
            if pattern is None:
                continue
            for key in keys:
                if _search(pattern, key, self.regex_timeout_s) is None:
                    return f"pattern {source!r} timed out after {self.regex_timeout_s:g} s"
        return None
