"""Smaller tool schemas for ``tools/list``.

Hosts put every tool's schemas in the model's context, and some cap the
total, so the published schemas drop what pydantic adds for humans:
``title`` keywords, ``default`` values that say nothing (null, empty),
``additionalProperties: true`` (the default) and ``false`` (the server still
rejects unknown keys); ``anyOf [X, null]`` is folded into ``type: [X, null]``,
a ``type`` beside an ``enum`` of strings goes (the enum says it all), a
``$defs`` entry used once is written in place, and whole-number bounds lose
their ``.0``. The server validates arguments with the full pydantic models
either way.

Output schemas are published as the result's field names (``shallow_output``),
with the allowed values of fields that have a closed set (``enum``). The JSON
type of each field, and nested objects, are left out: a model reads both in
every result, and the field names (what comes back) are what it needs before
the call. That schema accepts every real result; the descriptions say what the
fields hold.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["compact_schema", "shallow_output"]

_MAPS = ("properties", "$defs", "patternProperties")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMAS = ("items", "additionalProperties", "not", "contains")
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_EMPTY: tuple[Any, ...] = (None, "", [], {})
_DEFS = "#/$defs/"


def _fold_nullable(node: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [{type: T, ...}, {type: null}]`` -> ``{type: [T, null], ...}``."""
    arms = node.get("anyOf")
    if not isinstance(arms, list) or len(arms) != 2 or {"type": "null"} not in arms:
        return node
    other = arms[0] if arms[1] == {"type": "null"} else arms[1]
    if isinstance(other, dict) and "type" not in other and isinstance(other.get("enum"), list):
        folded = {k: v for k, v in node.items() if k != "anyOf"} | other
        return folded | {"enum": [*other["enum"], None]}  # an enum arm: null joins its values
    kind = other.get("type") if isinstance(other, dict) else None
    if not isinstance(kind, str):
        return node
    merged = {k: v for k, v in node.items() if k != "anyOf"}
    merged.update({k: v for k, v in other.items() if k != "type"})
    merged["type"] = [kind, "null"]
    if isinstance(merged.get("enum"), list):  # the null arm allowed null: so must the enum
        merged["enum"] = [*merged["enum"], None]
    return merged


def _bound(value: Any) -> Any:
    """``1.0`` -> ``1``: the same number to JSON Schema, two bytes fewer."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def compact_schema(node: Any) -> Any:
    """A compacted copy of the JSON Schema ``node`` (see the module docstring)."""
    return _compact(_inline_single_defs(node))


def _compact(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" or (key == "default" and value in _EMPTY):
            continue
        if key == "additionalProperties" and value in (False, True):
            continue
        if key in _MAPS and isinstance(value, dict):
            out[key] = {name: _compact(sub) for name, sub in value.items()}
        elif key in _LISTS and isinstance(value, list):
            out[key] = [_compact(sub) for sub in value]
        elif key in _SCHEMAS:
            out[key] = _compact(value)
        elif key in _BOUNDS:
            out[key] = _bound(value)
        else:
            out[key] = value
    return _drop_enum_type(_fold_nullable(out))


def _drop_enum_type(node: dict[str, Any]) -> dict[str, Any]:
    """``{enum: [...], type: ...}`` -> ``{enum: [...]}`` when the type admits every listed
    value: the enum alone admits exactly the same instances."""
    enum, kind = node.get("enum"), node.get("type")
    if not isinstance(enum, list) or kind is None:
        return node
    kinds = set(kind) if isinstance(kind, list) else {kind}
    names = {"string" if isinstance(v, str) else "null" if v is None else "?" for v in enum}
    if not names <= kinds:
        return node
    return {k: v for k, v in node.items() if k != "type"}


def _inline_single_defs(schema: Any) -> Any:
    """``schema`` with each ``$defs`` entry that is referenced once, and refers to nothing
    itself, written in place of its ``$ref`` (so no recursion can arise)."""
    defs = schema.get("$defs") if isinstance(schema, dict) else None
    if not isinstance(defs, dict):
        return schema
    uses = Counter(_refs(schema))
    single = {name: sub for name, sub in defs.items() if uses[_DEFS + name] == 1 and not _refs(sub)}
    if not single:
        return schema
    rest = {name: _replace_refs(sub, single) for name, sub in defs.items() if name not in single}
    body = _replace_refs({k: v for k, v in schema.items() if k != "$defs"}, single)
    return {**body, "$defs": rest} if rest else body


def _refs(node: Any) -> list[str]:
    """Every ``$ref`` value in ``node``, as often as it occurs."""
    if isinstance(node, list):
        return [ref for sub in node for ref in _refs(sub)]
    if not isinstance(node, dict):
        return []
    own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    return own + [ref for key, sub in node.items() if key != "$ref" for ref in _refs(sub)]


def _replace_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_replace_refs(sub, defs) for sub in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFS) and ref[len(_DEFS) :] in defs:
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return {**defs[ref[len(_DEFS) :]], **siblings}
    return {key: _replace_refs(value, defs) for key, value in node.items()}


def _values(node: Any) -> dict[str, Any]:
    """A field as published: ``{"enum": [...]}`` when its values are a closed set, else ``{}``."""
    if not isinstance(node, dict):
        return {}
    enum = node.get("enum")
    return {"enum": enum} if isinstance(enum, list) else {}


def shallow_output(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """An output schema one level deep: the field names, and the values of enum fields."""
    if schema is None:
        return None
    top = compact_schema(schema)
    props = {name: _values(sub) for name, sub in top.get("properties", {}).items()}
    return {"type": "object", "properties": props}
