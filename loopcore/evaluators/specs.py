"""Typed evaluator specs, parsed from JSON by the factory.

Each built-in spec is a pydantic model whose ``type`` field is a literal tag;
``BuiltinSpec`` is their union discriminated on ``type``. Extra fields are
forbidden, and every semantic check (patterns compile, schemas are valid,
bounds are ordered) happens here, so ``validate_spec`` catches everything that
does not need the server's options.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from loopcore.evaluators._patterns import FlagName, PatternItem, repeat_problem
from loopcore.evaluators._words import stems_of

__all__ = [
    "MAX_PATTERNS",
    "AspectSpec",
    "BuiltinSpec",
    "CommandSpec",
    "CompletenessSpec",
    "CompositeSpec",
    "EvidenceSpec",
    "JsonSchemaSpec",
    "LengthSpec",
    "PartSpec",
    "RegexSpec",
    "SpecModel",
]

MAX_PATTERNS = 100
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


class SpecModel(BaseModel):
    """Base of every spec: frozen, and unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RegexSpec(SpecModel):
    """``{"type": "regex", "required": [...], "forbidden": [...], "flags": [...]}``."""

    type: Literal["regex"]
    required: list[PatternItem] = Field(default_factory=list, max_length=MAX_PATTERNS)
    forbidden: list[PatternItem] = Field(default_factory=list, max_length=MAX_PATTERNS)
    flags: list[FlagName] = Field(default_factory=list, max_length=3)

    @model_validator(mode="after")
    def _some_patterns(self) -> RegexSpec:
        n = len(self.required) + len(self.forbidden)
        if n == 0:
            raise ValueError("required: needs at least one pattern, here or in 'forbidden'")
        if n > MAX_PATTERNS:
            raise ValueError(f"required: at most {MAX_PATTERNS} patterns here and in 'forbidden'")
        return self


class JsonSchemaSpec(SpecModel):
    """``{"type": "json_schema", "schema": {...}}`` (a Draft 2020-12 schema)."""

    type: Literal["json_schema"]
    json_schema: dict[str, Any] | bool = Field(alias="schema")

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | bool) -> dict[str, Any] | bool:
        try:
            canonical = json.dumps(value, sort_keys=True)
        except (TypeError, ValueError):
            raise ValueError("must be JSON data (objects, arrays, strings, numbers)") from None
        _check_schema(canonical)
        _check_references(canonical)
        for where, pattern in _schema_patterns(value):
            problem = repeat_problem(pattern)
            if problem is not None:
                raise ValueError(
                    f"the pattern at schema{where} is too costly to compile: {problem}"
                )
        return value


@lru_cache(maxsize=256)
def _check_schema(canonical: str) -> None:
    """Check a schema (as canonical JSON) against the Draft 2020-12 metaschema.

    Memoised: the check costs milliseconds and the same schema comes back with
    every task of a plan and every loop on it. A schema that fails raises every
    time (``lru_cache`` keeps no exceptions).
    """
    # Imported here: jsonschema costs ~0.1 s at start-up and only json_schema specs need it.
    from jsonschema import Draft202012Validator, SchemaError

    try:
        Draft202012Validator.check_schema(json.loads(canonical))
    except SchemaError as exc:
        where = exc.json_path.removeprefix("$")
        raise ValueError(
            f"not a valid Draft 2020-12 schema at schema{where}: {exc.message[:300]}"
        ) from None


@lru_cache(maxsize=256)
def _check_references(canonical: str) -> None:
    """Refuse a schema whose ``$ref`` points outside it (nothing is ever fetched)."""
    from loopcore.evaluators._schema_refs import outside_reference

    outside = outside_reference(json.loads(canonical))
    if outside is not None:
        raise ValueError(
            f"the schema's {outside} points outside the schema; references may only name "
            "this schema's own parts (#/$defs/..., or an $id declared inside it): nothing "
            "is fetched"
        )


def _schema_patterns(schema: Any) -> list[tuple[str, str]]:
    """Every ``pattern`` value and ``patternProperties`` key, with where it sits."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [("", schema)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.append((f"{where}.pattern", node["pattern"]))
            if isinstance(node.get("patternProperties"), dict):
                found += [(f"{where}.patternProperties", k) for k in node["patternProperties"]]
            stack += [(f"{where}.{k}", v) for k, v in node.items()]
        elif isinstance(node, list):
            stack += [(f"{where}[{i}]", v) for i, v in enumerate(node)]
    return found


_Bound = Annotated[int | None, Field(ge=0, le=10**9)]


class LengthSpec(SpecModel):
    """``{"type": "length", "min_words"?, "max_words"?, "min_chars"?, "max_chars"?}``."""

    type: Literal["length"]
    min_words: _Bound = None
    max_words: _Bound = None
    min_chars: _Bound = None
    max_chars: _Bound = None

    @field_validator("max_words", "max_chars")
    @classmethod
    def _ordered(cls, value: int | None, info: ValidationInfo) -> int | None:
        low_name = "min_" + str(info.field_name).removeprefix("max_")
        low = info.data.get(low_name)
        if value is not None and low is not None and low > value:
            raise ValueError(f"must be >= {low_name} ({low}), got {value}")
        return value

    @model_validator(mode="after")
    def _some_bound(self) -> LengthSpec:
        bounds = (self.min_words, self.max_words, self.min_chars, self.max_chars)
        if all(b is None for b in bounds):
            raise ValueError("needs at least one of min_words, max_words, min_chars, max_chars")
        return self


def _aspect_from_str(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class AspectSpec(SpecModel):
    """One required aspect: a phrase, or a name with patterns that show it is covered."""

    name: str = Field(min_length=1, max_length=300)
    patterns: list[PatternItem] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _has_a_word(self) -> AspectSpec:
        if not self.patterns and not stems_of(self.name):
            raise ValueError(
                f"aspect {self.name[:60]!r} needs a content word (not only words like 'the', "
                "'it') or 'patterns' that show it is covered"
            )
        return self


class CompletenessSpec(SpecModel):
    """``{"type": "completeness", "aspects": [...], "min_coverage"?: 1.0}``."""

    type: Literal["completeness"]
    aspects: list[Annotated[AspectSpec, BeforeValidator(_aspect_from_str)]] = Field(
        min_length=1, max_length=50
    )
    min_coverage: float = Field(default=1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _pattern_cap(self) -> CompletenessSpec:
        if sum(len(a.patterns) for a in self.aspects) > MAX_PATTERNS:
            raise ValueError(f"aspects: at most {MAX_PATTERNS} aspect patterns in all")
        return self


class EvidenceSpec(SpecModel):
    """``{"type": "evidence", "preset"?, "proof"?, "counter"?, "require"?, "flags"?}``."""

    type: Literal["evidence"]
    preset: Literal["tests", "lint"] | None = None
    proof: list[PatternItem] = Field(default_factory=list, max_length=MAX_PATTERNS)
    counter: list[PatternItem] = Field(default_factory=list, max_length=MAX_PATTERNS)
    require: Literal["any", "all"] = "any"
    flags: list[FlagName] = Field(default_factory=list, max_length=3)

    @model_validator(mode="after")
    def _some_evidence(self) -> EvidenceSpec:
        if self.preset is None and not self.proof and not self.counter:
            raise ValueError("preset: needs a preset ('tests' or 'lint'), 'proof' or 'counter'")
        if len(self.proof) + len(self.counter) > MAX_PATTERNS:
            raise ValueError(f"proof: at most {MAX_PATTERNS} patterns here and in 'counter'")
        return self


class PartSpec(SpecModel):
    """One part of a composite: a weight and a nested spec (validated by the factory)."""

    weight: float = Field(default=1.0, ge=0.0)
    spec: dict[str, Any]

    @field_validator("weight")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number >= 0")
        return value


class CompositeSpec(SpecModel):
    """``{"type": "composite", "parts": [{"weight", "spec"}], "pass"?, "threshold"?}``."""

    type: Literal["composite"]
    parts: list[PartSpec] = Field(min_length=1, max_length=20)
    pass_mode: Literal["all", "weighted"] = Field(default="all", alias="pass")
    threshold: float = Field(default=0.8, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _some_weight(self) -> CompositeSpec:
        if sum(p.weight for p in self.parts) <= 0.0:
            raise ValueError("parts: at least one weight must be > 0 (weights are normalised)")
        return self


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


_Arg = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_no_nul)]


class CommandSpec(SpecModel):
    """``{"type": "command", "run": [...], "timeout_s"?, "env"?, "cwd"?}``."""

    type: Literal["command"]
    run: list[_Arg] = Field(min_length=1, max_length=64)
    timeout_s: float | None = Field(default=None, gt=0.0, le=86_400.0)
    env: list[str] = Field(default_factory=list, max_length=32)
    cwd: str | None = Field(default=None, min_length=1, max_length=4096)

    @field_validator("env")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for i, name in enumerate(value):
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"item {i} ({name[:60]!r}) is not a variable name ([A-Za-z_]\\w*)")
            if name.upper().startswith("LOOPCORE_"):
                raise ValueError(
                    f"item {i} ({name!r}): LOOPCORE_* variables are the server's own settings "
                    "(its token, its provider key) and are never passed to commands"
                )
        return value

    @field_validator("cwd")
    @classmethod
    def _cwd_no_nul(cls, value: str | None) -> str | None:
        return None if value is None else _no_nul(value)


BuiltinSpec = Annotated[
    RegexSpec
    | JsonSchemaSpec
    | LengthSpec
    | CompletenessSpec
    | EvidenceSpec
    | CompositeSpec
    | CommandSpec,
    Field(discriminator="type"),
]
