"""Evaluators built from JSON specs, through an explicit registry of types.

A spec is a JSON object whose ``type`` names a registered evaluator; the rest
is parsed by that type's pydantic model (extra fields forbidden). Any problem
is an ``InvalidInput`` whose ``field`` is the dotted path of the offending
value (``parts.1.spec.max_words``) and whose message says what is allowed.

Built evaluators are cached (least recently used, ``EVALUATOR_CACHE_SIZE``
entries) by the spec's canonical JSON and the options that shape them, so a
loop that is stepped or a spec that is verified again is not parsed and
compiled again (a JSON Schema's metaschema check alone takes milliseconds).
Evaluators are immutable, so one instance is safely shared. Two kinds are
never cached: ``command`` (its allowlist and path checks look at the file
system, which may change between calls; starting a process costs far more
than building) and types registered without ``cacheable=True``. A spec that
fails is never cached: it raises on every call.

The built-in types are registered on first use of the registry, not at import:
every service imports this module, and the evaluators, their spec models and
``regex`` cost ~0.1 s of CPU that a server starting up should not pay before the
first spec arrives.
"""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ValidationError

from loopcore.errors import Conflict, InvalidInput
from loopcore.evaluators._budget import Budgeted
from loopcore.evaluators._cache import LruCache
from loopcore.evaluators._spec_errors import from_validation_error, reprefixed
from loopcore.evaluators.base import Evaluator
from loopcore.evaluators.options import FactoryOptions

if TYPE_CHECKING:
    from loopcore.evaluators.judge import JudgeSpec
    from loopcore.evaluators.specs import CompositeSpec

__all__ = [
    "EVALUATOR_CACHE_SIZE",
    "IN_MEMORY_TYPES",
    "MAX_COMPOSITE_NESTING",
    "MAX_SPEC_BYTES",
    "MAX_SPEC_DEPTH",
    "Builder",
    "FactoryOptions",
    "build_evaluator",
    "clear_evaluator_cache",
    "evaluator_types",
    "held_commands",
    "in_memory",
    "register_evaluator",
    "validate_spec",
]

MAX_SPEC_BYTES = 64 * 1024
MAX_SPEC_DEPTH = 32
MAX_COMPOSITE_NESTING = 4
EVALUATOR_CACHE_SIZE = 256

Builder = Callable[[BaseModel, FactoryOptions], Evaluator]


@dataclass(frozen=True, slots=True)
class _Entry:
    model: type[BaseModel]
    builder: Builder | None  # None: the factory builds it (composite, from its parsed parts)
    cacheable: bool


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A parsed spec; a composite's parts are parsed once, here, and built from this."""

    model: BaseModel
    parts: tuple[_Parsed, ...] = ()
    cacheable: bool = True  # every type in the tree may be cached


_REGISTRY: dict[str, _Entry] = {}
_BUILTINS_LOADED = threading.Event()
_BUILTINS_LOCK = threading.Lock()
_Key = tuple[str, tuple[Any, ...]]
_CACHE: LruCache[_Key, Evaluator] = LruCache(EVALUATOR_CACHE_SIZE)


def register_evaluator(
    type_name: str,
    spec_model: type[BaseModel],
    builder: Callable[[Any, FactoryOptions], Evaluator],
    *,
    cacheable: bool = False,
) -> None:
    """Register an evaluator type under ``type_name``.

    Args:
        type_name: the spec's ``type`` tag (lower case, letters, digits, underscores).
        spec_model: a pydantic model with a ``type`` field; it parses the spec.
        builder: turns a parsed spec and the options into an evaluator; raises
            ``InvalidInput`` (with a field relative to the spec) when it cannot.
        cacheable: the built evaluator is immutable and depends only on the spec and
            the options other than ``environ``, so one instance may serve every call.

    Raises:
        Conflict: when ``type_name`` is already registered.
        InvalidInput: when the name or the model is unusable.
    """
    if not (type_name.isascii() and type_name.replace("_", "a").isalnum() and type_name.islower()):
        raise InvalidInput("must be lower-case letters, digits or '_'", field="type_name")
    if "type" not in spec_model.model_fields:
        raise InvalidInput("the spec model needs a 'type' field", field="spec_model")
    _add(_registry(), type_name, _Entry(spec_model, builder, cacheable))


def _add(registry: dict[str, _Entry], type_name: str, entry: _Entry) -> None:
    if type_name in registry:
        raise Conflict(f"evaluator type {type_name!r} is already registered")
    registry[type_name] = entry


def _registry() -> dict[str, _Entry]:
    """The registry, the built-in types registered on first use (once, whichever thread)."""
    if not _BUILTINS_LOADED.is_set():
        with _BUILTINS_LOCK:
            if not _BUILTINS_LOADED.is_set():
                _register_builtins()
                _BUILTINS_LOADED.set()
    return _REGISTRY


def evaluator_types() -> list[str]:
    """The registered type names, sorted."""
    return sorted(_registry())


def validate_spec(spec: Mapping[str, Any] | str) -> dict[str, Any]:
    """Parse and check a spec without building it; return its normalised form.

    Checks that need the server's options (the command allowlist, the project
    root) happen only in ``build_evaluator``.

    Raises:
        InvalidInput: naming the field and what is allowed.
    """
    return _normalised(_parse(_load(spec), "", 0))


# The built-in types that only compute over the output and the spec: no program, no model,
# no file, no network. An evaluation of these is bounded by its budget and nothing else.
IN_MEMORY_TYPES = frozenset({"completeness", "evidence", "json_schema", "length", "regex"})


def in_memory(spec: object, _depth: int = 0) -> bool:
    """Whether a spec (parsed JSON, checked or not) uses only ``IN_MEMORY_TYPES`` and composites.

    A spec of any other shape, or nested deeper than composites may be, answers False
    (it is checked where it is built).
    """
    if not isinstance(spec, Mapping) or _depth > MAX_COMPOSITE_NESTING:
        return False
    kind = spec.get("type")
    if kind != "composite":
        return kind in IN_MEMORY_TYPES
    parts = spec.get("parts")
    return isinstance(parts, list | tuple) and all(
        isinstance(p, Mapping) and in_memory(p.get("spec"), _depth + 1) for p in parts
    )


def held_commands(spec: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The command lines in a (validated) spec tree that ask for a person's approval."""
    if spec is None:
        return ()
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, Mapping):
            if node.get("type") == "command" and node.get("approval") is True:
                run = node.get("run") or []
                found.append(shlex.join(str(a) for a in run)[:200])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return tuple(found)


def build_evaluator(
    spec: Mapping[str, Any] | str, options: FactoryOptions | None = None
) -> Evaluator:
    """Build an evaluator from a spec (a mapping, or JSON text), or reuse a cached one.

    The instance may be shared with other callers of the same spec and options:
    treat it as immutable. Each of its evaluations runs under one time budget
    (``FactoryOptions.evaluation_budget_s``, see ``_budget``).

    Raises:
        InvalidInput: naming the field and what is allowed.
    """
    options = options or FactoryOptions()
    key = _cache_key(spec, options)
    cached = _CACHE.get(key) if key is not None else None
    if cached is not None:
        return cached
    parsed = _parse(_load(spec), "", 0)
    evaluator: Evaluator = Budgeted(
        inner=_build(parsed, options), budget_s=options.evaluation_budget_s
    )
    if key is not None and parsed.cacheable:
        _CACHE.put(key, evaluator)
    return evaluator


def clear_evaluator_cache() -> None:
    """Forget every cached evaluator (the next build of each spec starts afresh)."""
    _CACHE.clear()


def _cache_key(spec: Mapping[str, Any] | str, options: FactoryOptions) -> _Key | None:
    """The spec's canonical JSON (sorted keys) and the options that shape its evaluator.

    None when the spec is not JSON data or is too large: ``_load`` then says why. A hit
    needs no ``_load`` checks: an equal canonical text passed them when it was built.
    """
    if isinstance(spec, str) and len(spec) > MAX_SPEC_BYTES:
        return None
    try:
        text = json.dumps(json.loads(spec) if isinstance(spec, str) else spec, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return None
    return text, _options_key(options)


def _options_key(options: FactoryOptions) -> tuple[Any, ...]:
    # ``environ`` (a mapping, left out of the hash) shapes only command evaluators,
    # which are never cached; every other option is part of the key.
    return tuple(
        getattr(options, f.name) for f in fields(options) if f.name not in ("environ", "judge")
    )


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


def _parse(raw: Any, path: str, nesting: int) -> _Parsed:
    """The typed spec for ``raw``, composite parts parsed recursively (errors at full paths)."""
    where = path.rstrip(".") or None
    if not isinstance(raw, dict):
        raise InvalidInput("must be a JSON object with a 'type' field", field=where)
    kind = raw.get("type")
    entry = _registry().get(kind) if isinstance(kind, str) else None
    if entry is None:
        known = ", ".join(evaluator_types())
        raise InvalidInput(
            f"unknown evaluator type {kind!r}; known types: {known}", field=path + "type"
        )
    try:
        model = entry.model.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(exc, entry.model, path) from None
    if entry.builder is not None:
        return _Parsed(model, cacheable=entry.cacheable)
    if kind == "judge":  # built here, its check first (see _build_judge)
        return _Parsed(model, cacheable=False)
    return _parse_composite(cast("CompositeSpec", model), path, nesting)


def _parse_composite(model: CompositeSpec, path: str, nesting: int) -> _Parsed:
    if nesting >= MAX_COMPOSITE_NESTING:
        raise InvalidInput(
            f"composites may nest at most {MAX_COMPOSITE_NESTING} levels deep",
            field=path.rstrip(".") or None,
        )
    parts = tuple(
        _parse(part.spec, f"{path}parts.{i}.spec.", nesting + 1)
        for i, part in enumerate(model.parts)
    )
    return _Parsed(model, parts, cacheable=all(p.cacheable for p in parts))


def _normalised(parsed: _Parsed) -> dict[str, Any]:
    """The spec as JSON data with every default filled in (composite parts included)."""
    data = parsed.model.model_dump(mode="json", by_alias=True)
    if parsed.parts:
        for item, part in zip(data["parts"], parsed.parts, strict=True):
            item["spec"] = _normalised(part)
    return data


def _build(parsed: _Parsed, options: FactoryOptions) -> Evaluator:
    kind = str(getattr(parsed.model, "type", None))
    builder = _REGISTRY[kind].builder
    if builder is not None:
        return builder(parsed.model, options)
    if kind == "judge":  # composite and judge are built here, from the specs inside them
        return _build_judge(cast("JudgeSpec", parsed.model), options)
    return _build_composite(cast("CompositeSpec", parsed.model), parsed.parts, options)


def _build_judge(spec: JudgeSpec, options: FactoryOptions) -> Evaluator:
    from loopcore.evaluators.judge import make_judge

    try:
        check = build_evaluator(spec.check, options)
    except InvalidInput as exc:  # the check's fields are relative to the judge's spec
        raise reprefixed(exc, "check.") from None
    return make_judge(spec, check, options)


def _build_composite(
    spec: CompositeSpec, parts: tuple[_Parsed, ...], options: FactoryOptions
) -> Evaluator:
    from loopcore.evaluators.composite import CompositeEvaluator

    built: list[tuple[float, Evaluator]] = []
    for i, (part, parsed) in enumerate(zip(spec.parts, parts, strict=True)):
        try:
            built.append((part.weight, _build(parsed, options)))
        except InvalidInput as exc:  # a builder's field is relative to its own spec
            raise reprefixed(exc, f"parts.{i}.spec.") from None
    return CompositeEvaluator(parts=tuple(built), mode=spec.pass_mode, threshold=spec.threshold)


def _register_builtins() -> None:
    """Register the built-in types (``_registry`` calls this once, under its lock)."""
    from loopcore.evaluators._builtins import BUILTINS
    from loopcore.evaluators.judge import JudgeSpec
    from loopcore.evaluators.specs import CompositeSpec

    for name, model, builder in BUILTINS:
        _add(_REGISTRY, name, _Entry(model, builder, cacheable=name not in ("command", "judge")))
    _add(_REGISTRY, "composite", _Entry(CompositeSpec, None, cacheable=True))
    _add(_REGISTRY, "judge", _Entry(JudgeSpec, None, cacheable=False))
