"""Evaluators built from JSON specs, through an explicit registry of types.

A spec is a JSON object whose ``type`` names a registered evaluator; the rest
is parsed by that type's pydantic model (extra fields forbidden). Any problem
is an ``InvalidInput`` whose ``field`` is the dotted path of the offending
value (``parts.1.spec.max_words``) and whose message says what is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from loopcore.errors import Conflict, InvalidInput
from loopcore.evaluators import _builtins
from loopcore.evaluators._spec_errors import from_validation_error, reprefixed
from loopcore.evaluators.base import Evaluator
from loopcore.evaluators.composite import CompositeEvaluator
from loopcore.evaluators.options import FactoryOptions
from loopcore.evaluators.specs import CompositeSpec

__all__ = [
    "MAX_COMPOSITE_NESTING",
    "MAX_SPEC_BYTES",
    "MAX_SPEC_DEPTH",
    "Builder",
    "FactoryOptions",
    "build_evaluator",
    "evaluator_types",
    "register_evaluator",
    "validate_spec",
]

MAX_SPEC_BYTES = 64 * 1024
MAX_SPEC_DEPTH = 32
MAX_COMPOSITE_NESTING = 4

Builder = Callable[[BaseModel, FactoryOptions], Evaluator]


@dataclass(frozen=True, slots=True)
class _Entry:
    model: type[BaseModel]
    builder: Builder


_REGISTRY: dict[str, _Entry] = {}


def register_evaluator(
    type_name: str, spec_model: type[BaseModel], builder: Callable[[Any, FactoryOptions], Evaluator]
) -> None:
    """Register an evaluator type under ``type_name``.

    Args:
        type_name: the spec's ``type`` tag (lower case, letters, digits, underscores).
        spec_model: a pydantic model with a ``type`` field; it parses the spec.
        builder: turns a parsed spec and the options into an evaluator; raises
            ``InvalidInput`` (with a field relative to the spec) when it cannot.

    Raises:
        Conflict: when ``type_name`` is already registered.
        InvalidInput: when the name or the model is unusable.
    """
    if not (type_name.isascii() and type_name.replace("_", "a").isalnum() and type_name.islower()):
        raise InvalidInput("must be lower-case letters, digits or '_'", field="type_name")
    if "type" not in spec_model.model_fields:
        raise InvalidInput("the spec model needs a 'type' field", field="spec_model")
    if type_name in _REGISTRY:
        raise Conflict(f"evaluator type {type_name!r} is already registered")
    _REGISTRY[type_name] = _Entry(spec_model, builder)


def evaluator_types() -> list[str]:
    """The registered type names, sorted."""
    return sorted(_REGISTRY)


def validate_spec(spec: Mapping[str, Any] | str) -> dict[str, Any]:
    """Parse and check a spec without building it; return its normalised form.

    Checks that need the server's options (the command allowlist, the project
    root) happen only in ``build_evaluator``.

    Raises:
        InvalidInput: naming the field and what is allowed.
    """
    return _dump(_parse(_load(spec), "", 0))


def build_evaluator(
    spec: Mapping[str, Any] | str, options: FactoryOptions | None = None
) -> Evaluator:
    """Build an evaluator from a spec (a mapping, or JSON text).

    Raises:
        InvalidInput: naming the field and what is allowed.
    """
    return _build(_parse(_load(spec), "", 0), options or FactoryOptions())


def _load(spec: Mapping[str, Any] | str) -> Any:
    """JSON text of at most 64 KB and depth 32, parsed (a mapping is round-tripped)."""
    try:
        text = spec if isinstance(spec, str) else json.dumps(spec)
    except (TypeError, ValueError, RecursionError):
        raise InvalidInput(
            "the spec must be plain JSON data (objects, arrays, strings, numbers)"
        ) from None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise InvalidInput(f"the spec is larger than {MAX_SPEC_BYTES // 1024} KB of JSON")
    try:
        data = json.loads(text)
    except RecursionError:
        raise InvalidInput(f"the spec is nested deeper than {MAX_SPEC_DEPTH} levels") from None
    except ValueError as exc:
        raise InvalidInput(f"the spec is not valid JSON: {exc}") from None
    if _depth(data) > MAX_SPEC_DEPTH:
        raise InvalidInput(f"the spec is nested deeper than {MAX_SPEC_DEPTH} levels")
    return data


def _depth(data: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def _parse(raw: Any, path: str, nesting: int) -> BaseModel:
    """The typed spec for ``raw``, composite parts parsed (and normalised) recursively."""
    where = path.rstrip(".") or None
    if not isinstance(raw, dict):
        raise InvalidInput("must be a JSON object with a 'type' field", field=where)
    kind = raw.get("type")
    entry = _REGISTRY.get(kind) if isinstance(kind, str) else None
    if entry is None:
        known = ", ".join(evaluator_types())
        raise InvalidInput(
            f"unknown evaluator type {kind!r}; known types: {known}", field=path + "type"
        )
    try:
        model = entry.model.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(exc, entry.model, path) from None
    if isinstance(model, CompositeSpec):
        if nesting >= MAX_COMPOSITE_NESTING:
            raise InvalidInput(
                f"composites may nest at most {MAX_COMPOSITE_NESTING} levels deep", field=where
            )
        parts = [
            part.model_copy(
                update={"spec": _dump(_parse(part.spec, f"{path}parts.{i}.spec.", nesting + 1))}
            )
            for i, part in enumerate(model.parts)
        ]
        model = model.model_copy(update={"parts": parts})
    return model


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)


def _build(model: BaseModel, options: FactoryOptions) -> Evaluator:
    kind = getattr(model, "type", None)
    entry = _REGISTRY[str(kind)]
    return entry.builder(model, options)


def _build_composite(spec: CompositeSpec, options: FactoryOptions) -> Evaluator:
    parts: list[tuple[float, Evaluator]] = []
    for i, part in enumerate(spec.parts):
        prefix = f"parts.{i}.spec."
        try:
            parts.append((part.weight, _build(_parse(part.spec, "", 1), options)))
        except InvalidInput as exc:
            raise reprefixed(exc, prefix) from None
    return CompositeEvaluator(parts=tuple(parts), mode=spec.pass_mode, threshold=spec.threshold)


def _register_builtins() -> None:
    for name, model, builder in _builtins.BUILTINS:
        register_evaluator(name, model, builder)
    register_evaluator("composite", CompositeSpec, _build_composite)


_register_builtins()
