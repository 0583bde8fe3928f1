"""Pydantic validation errors turned into one ``InvalidInput`` naming the field."""

from __future__ import annotations

import re
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from loopcore.errors import InvalidInput

__all__ = ["from_validation_error", "reprefixed"]

# A model-level check may name its field as "field: message".
_FIELD_PREFIX = re.compile(r"([a-z_][a-z0-9_]*): (.*)", re.DOTALL)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The nested model that the location ``loc`` points into."""
    current: type[BaseModel] | None = model
    for step in loc:
        if current is None:
            return None
        if isinstance(step, int):
            continue
        fields = {f.alias or n: f for n, f in current.model_fields.items()}
        info = fields.get(step) or current.model_fields.get(step)
        current = _model_in(info.annotation) if info is not None else None
    return current


def _allowed(model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    names = sorted(f.alias or n for n, f in model.model_fields.items())
    return "; allowed fields: " + ", ".join(names)


def _message(error: Any, model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field" + _allowed(_model_at(model, loc[:-1]))
    if kind == "missing":
        return "this field is required"
    message = str(error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def from_validation_error(exc: ValidationError, model: type[BaseModel], path: str) -> InvalidInput:
    """The first problem of ``exc`` as an ``InvalidInput`` at ``path`` + its location."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc: tuple[int | str, ...] = tuple(first["loc"])
    message = _message(first, model, loc)
    dotted = ".".join(str(part) for part in loc)
    if not loc and (named := _FIELD_PREFIX.fullmatch(message)):
        dotted, message = named.group(1), named.group(2)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    field = (path + dotted).rstrip(".")
    return InvalidInput(message, field=field or None)


def reprefixed(exc: InvalidInput, prefix: str) -> InvalidInput:
    """``exc`` with its field moved under ``prefix`` (e.g. ``"parts.1.spec."``)."""
    text = str(exc)
    if exc.field:
        text = text.removeprefix(f"{exc.field}: ")
    field = (prefix + (exc.field or "")).rstrip(".")
    return InvalidInput(text, field=field)
