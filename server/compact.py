"""Smaller tool schemas for ``tools/list``.

Hosts put every tool's schemas in the model's context, and some cap the
total, so the published schemas drop what pydantic adds for humans:
``title`` keywords, ``default`` values that say nothing (null, empty),
``additionalProperties: true`` (the default) and ``false`` (the server still
rejects unknown keys), and ``anyOf [X, null]`` is folded into ``type: [X, null]``.
The server validates arguments with the full pydantic models either way.

Output schemas are published one level deep (``shallow_output``): the fields of
the result with their JSON types; nested objects and arrays are not described.
That is a looser schema than the model's, so every real result still
validates; the tool descriptions say what the nested objects hold.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compact_schema", "shallow_output"]

_MAPS = ("properties", "$defs", "patternProperties")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMAS = ("items", "additionalProperties", "not", "contains")
_EMPTY: tuple[Any, ...] = (None, "", [], {})


def _fold_nullable(node: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [{type: T, ...}, {type: null}]`` -> ``{type: [T, null], ...}``."""
    arms = node.get("anyOf")
    if not isinstance(arms, list) or len(arms) != 2 or {"type": "null"} not in arms:
        return node
    other = arms[0] if arms[1] == {"type": "null"} else arms[1]
    kind = other.get("type") if isinstance(other, dict) else None
    if not isinstance(kind, str):
        return node
    merged = {k: v for k, v in node.items() if k != "anyOf"}
    merged.update({k: v for k, v in other.items() if k != "type"})
    merged["type"] = [kind, "null"]
    return merged


def compact_schema(node: Any) -> Any:
    """A compacted copy of the JSON Schema ``node`` (see the module docstring)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" or (key == "default" and value in _EMPTY):
            continue
        if key == "additionalProperties" and value in (False, True):
            continue
        if key in _MAPS and isinstance(value, dict):
            out[key] = {name: compact_schema(sub) for name, sub in value.items()}
        elif key in _LISTS and isinstance(value, list):
            out[key] = [compact_schema(sub) for sub in value]
        elif key in _SCHEMAS:
            out[key] = compact_schema(value)
        else:
            out[key] = value
    return _fold_nullable(out)


def _shallow(node: Any) -> dict[str, Any]:
    """A property's schema reduced to its JSON type (and enum): nested objects, array items
    and map values become bare ``object`` / ``array``."""
    if not isinstance(node, dict):
        return {}
    if "$ref" in node:
        return {"type": "object"}
    arms = node.get("anyOf")
    if isinstance(arms, list) and len(arms) == 2 and {"type": "null"} in arms:
        other = _shallow(arms[0] if arms[1] == {"type": "null"} else arms[1])
        kind = other.get("type")
        return {**other, "type": [kind, "null"]} if isinstance(kind, str) else {}
    return {k: node[k] for k in ("type", "enum") if k in node}


def shallow_output(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """An output schema one level deep: field names and their JSON types."""
    if schema is None:
        return None
    top = compact_schema(schema)
    props = {name: _shallow(sub) for name, sub in top.get("properties", {}).items()}
    return {"type": "object", "properties": props}
