"""The one base model of tool inputs and outputs, and the bounded argument types.

Tool arguments are flat (a model calls ``plan_status(plan_id=...)``, not
``plan_status(args={...})``): the bounded argument types below are annotated
parameters of the tool functions, and the nested inputs (tasks, updates) and
every output are models built on ``Model``. Descriptions are short on purpose:
the whole ``tools/list`` must stay small enough for hosts with tight budgets,
so field titles are dropped from the published schemas.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)

from loopcore.limits import ID_PATTERN, LIMITS

__all__ = [
    "ID_JSON_PATTERN",
    "ID_PATTERN",
    "MAX_PROMPT",
    "MAX_TEXT",
    "Agent",
    "Goal",
    "HistoryId",
    "LoopId",
    "Model",
    "OptText",
    "OutputText",
    "PlanId",
    "PromptText",
    "Spec",
    "TaskId",
    "TaskType",
    "Unit",
]

MAX_PROMPT = LIMITS.prompt_chars  # characters of a prompt to intercept or refine
MAX_TEXT = LIMITS.output_chars  # characters of an output
_ID = ID_PATTERN
# The id pattern as published: the same set in JSON Schema's (ECMA-262) regex dialect, where
# ``\w`` is ``[A-Za-z0-9_]``, in fewer bytes. The server validates with ``ID_PATTERN`` itself
# (pydantic's ``\w`` would also take non-ASCII letters).
ID_JSON_PATTERN = r"^[\w.-]{1,64}$"


def _drop_titles(schema: dict[str, Any]) -> None:
    """Nested models publish their fields, not their docstrings (tool descriptions say it)."""
    schema.pop("title", None)
    schema.pop("description", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)


SCORE_DIGITS = 3  # scores, confidences and seconds in results: 0.135, not 0.1353352832366127


def _empty(value: Any) -> bool:
    """Nothing to say: None, or an empty text, list or mapping (0 and False are values)."""
    return value is None or (isinstance(value, str | list | tuple | dict) and not value)


def rounded(value: Any) -> Any:
    """``value`` with every float in it rounded to ``SCORE_DIGITS`` decimals."""
    if isinstance(value, float):
        return round(value, SCORE_DIGITS)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


class Model(BaseModel):
    """The base of every tool input and output model: unknown fields refused, no titles.

    Results carry what is there and nothing else: an optional field that holds
    nothing (``None``, ``""``, ``[]``, ``{}``) is left out, and floats are rounded to
    ``SCORE_DIGITS`` decimals. Required fields are always sent, empty or not.
    """

    # defer_build: a model's validator and serializer are built on its first use (a tool is
    # built on its first call, server.catalogue), not while the server starts.
    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_titles, defer_build=True)

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        optional, exact = _shape(type(self))
        keep = {}
        for key, value in data.items():
            if key in optional and _empty(value):
                continue
            keep[key] = value if key in exact else rounded(value)
        return keep


@functools.cache
def _shape(model: type[Model]) -> tuple[frozenset[str], frozenset[str]]:
    """The fields of ``model`` that are optional, and those whose value holds no float to round
    (text, numbers that are ints, flags, and models of ours, which round their own)."""
    fields = model.model_fields
    optional = frozenset(n for n, f in fields.items() if not f.is_required())
    exact = frozenset(n for n, f in fields.items() if _floatless(f.annotation))
    return optional, exact


_FLOATLESS = (str, int, bool, type(None))
_CONTAINERS = (list, tuple, set, frozenset, Sequence, AbstractSet)


def _floatless(annotation: Any) -> bool:
    """Whether a value of this type can hold no float (unsure: False, and it is rounded)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _floatless(args[0])
    if origin in (Union, UnionType) or origin in _CONTAINERS:
        return all(_floatless(a) for a in args if a is not Ellipsis)
    if origin is Literal:
        return not any(isinstance(a, float) for a in args)
    if origin in (dict, Mapping):
        return _floatless(args[1]) if len(args) == 2 else False
    if origin is not None or not isinstance(annotation, type):
        return False
    if issubclass(annotation, float) and not issubclass(annotation, bool):
        return False
    return issubclass(annotation, _FLOATLESS) or issubclass(annotation, Model)


# ---- bounded argument types ----------------------------------------------------------------

# Ids: validated by the pattern, and published with it (a call the schema admits is never
# refused for its shape; a wrong id is answered "not found").
_Id = WithJsonSchema({"type": "string", "pattern": ID_JSON_PATTERN})
PlanId = Annotated[str, Field(pattern=_ID), _Id]
TaskId = Annotated[str, Field(pattern=_ID), _Id]
LoopId = Annotated[str, Field(pattern=_ID), _Id]
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Goal = Annotated[str, Field(min_length=1, max_length=LIMITS.goal_chars)]
OutputText = Annotated[str, Field(max_length=MAX_TEXT)]
OptText = Annotated[str, Field(max_length=LIMITS.text_chars)]
Agent = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9_.@:-]{1,64}$"),
    WithJsonSchema({"type": "string", "pattern": r"^[\w.@:-]{1,64}$"}),
]
Spec = Annotated[
    dict[str, Any],
    Field(
        description="type: regex|json_schema|length|completeness|evidence|composite|command|judge"
    ),
]


PromptText = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT)]
HistoryId = Annotated[
    str,
    Field(pattern=_ID, description="history_id an intercept returned."),
]
TaskType = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_.:/@+-]{1,64}$",
        description='Kind of work ("code", "docs"): priors are kept per task type.',
    ),
]
