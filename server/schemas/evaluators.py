"""The evaluator catalogue an agent reads: every spec type's fields, types, bounds, defaults.

Generated from the spec models in ``loopcore.evaluators.specs`` (their JSON
schemas), so it cannot drift from what the factory accepts; only the one
example per type is written here, and a test builds every example. Published
as the resource ``loopcore://evaluators``; the tools that take a spec point to it.
The spec models (and ``regex`` with them) are imported when the catalogue is first
read, not when the server starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:
    from loopcore.evaluators.specs import SpecModel

__all__ = ["EVALUATORS_URI", "EXAMPLES", "catalogue"]

EVALUATORS_URI = "loopcore://evaluators"

EXAMPLES: dict[str, dict[str, Any]] = {
    "regex": {"type": "regex", "required": [r"def \w+\("], "forbidden": ["TODO"]},
    "json_schema": {
        "type": "json_schema",
        "schema": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
        },
    },
    "length": {"type": "length", "min_words": 50, "max_words": 400},
    "completeness": {"type": "completeness", "aspects": ["error handling", "unit tests"]},
    "evidence": {"type": "evidence", "preset": "tests"},
    "composite": {
        "type": "composite",
        "parts": [
            {"weight": 2, "spec": {"type": "regex", "required": ["def "]}},
            {"weight": 1, "spec": {"type": "length", "max_words": 300}},
        ],
        "pass": "weighted",
    },
    "command": {"type": "command", "run": ["pytest", "-q"], "timeout_s": 120},
}

# JSON-schema keys that say nothing an agent needs (titles repeat the field names).
_NOISE = frozenset({"title"})


def _clean(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _clean(v) for k, v in schema.items() if k not in _NOISE}
    if isinstance(schema, list):
        return [_clean(v) for v in schema]
    return schema


def _models() -> tuple[type[SpecModel], ...]:
    from loopcore.evaluators.specs import BuiltinSpec

    union = get_args(BuiltinSpec)[0]
    return tuple(get_args(union))


def _entry(model: type[SpecModel]) -> tuple[str, dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)
    name = str(schema["properties"]["type"]["const"])
    fields = {k: _clean(v) for k, v in schema["properties"].items() if k != "type"}
    entry: dict[str, Any] = {
        "about": " ".join((model.__doc__ or "").split()),
        "fields": fields,
        "required": [f for f in schema.get("required", []) if f != "type"],
        "example": EXAMPLES[name],
    }
    if "$defs" in schema:
        entry["definitions"] = _clean(schema["$defs"])
    return name, entry


def catalogue() -> dict[str, Any]:
    """Every evaluator type: about, fields (types, bounds, defaults), required, an example."""
    types = dict(_entry(m) for m in _models())
    return {
        "usage": "pass one spec as `evaluator` (verify_output, loop_start, refine) or as a task's "
        "`acceptance` (plan_create); unknown fields are refused; composite parts nest specs",
        "types": types,
    }
