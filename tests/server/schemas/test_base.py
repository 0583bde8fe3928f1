"""The bounds the tool schemas publish are the bounds the server enforces.

Calls are generated from the published ``tools/list`` input schemas (types,
enums, patterns, lengths, ranges, item counts: values at and between the
bounds), sent to the real server, and every refusal is read: a call the
schema admits may be refused for what it means (an unknown id, a dependency
that names no task), never for a size, range or pattern the schema did not
state.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any, Literal

import pytest
from mcp import Client
from pydantic import Field

from loopcore.limits import ID_PATTERN, LIMITS
from server.app import build_server
from server.schemas.base import ID_JSON_PATTERN, Model, _floatless
from tests.server.helpers import make_settings, ok, text_of

pytestmark = pytest.mark.anyio

VALID_SPEC = {"type": "length", "min_words": 1}
CALLS_PER_TOOL = 25
_CLASS_PATTERN = re.compile(r"\^\[(?P<cls>[^\]]+)\]\{(?P<lo>\d+),(?P<hi>\d+)\}\$")
# What a refusal for an unstated bound looks like: pydantic's argument validation (the
# published schema should have refused the call first) or a domain size/shape check.
_BOUND_REFUSAL = re.compile(
    r"validation error|should match pattern|should have (at most|at least)|"
    r"characters|less than|greater than|at most \d|at least \d|must be \d|may be one of",
    re.IGNORECASE,
)


def _class_chars(cls: str) -> list[str]:
    """The characters of a regex character class such as ``\\w.:/@+-`` or ``A-Za-z0-9_.-``."""
    chars: list[str] = []
    i = 0
    while i < len(cls):
        if cls.startswith("\\w", i):
            chars += [chr(c) for c in range(128) if chr(c).isalnum() or chr(c) == "_"]
            i += 2
        elif i + 2 < len(cls) and cls[i + 1] == "-":
            chars += [chr(c) for c in range(ord(cls[i]), ord(cls[i + 2]) + 1)]
            i += 3
        else:
            chars.append(cls[i])
            i += 1
    return chars


class Generator:
    """Values a JSON Schema admits, biased to its bounds."""

    def __init__(self, seed: int, known: dict[str, list[str]] | None = None) -> None:
        self.rng = random.Random(seed)
        self.known = known or {}

    def length(self, lo: int, hi: int) -> int:
        return self.rng.choice([lo, hi, self.rng.randint(lo, min(hi, lo + 40))])

    def string(self, schema: dict[str, Any]) -> str:
        pattern = schema.get("pattern")
        if pattern is not None:
            m = _CLASS_PATTERN.fullmatch(pattern)
            assert m, f"the generator reads ^[class]{{m,n}}$ patterns only, not {pattern!r}"
            chars = _class_chars(m["cls"])
            n = self.length(int(m["lo"]), int(m["hi"]))
            return "".join(self.rng.choice(chars) for _ in range(n))
        n = self.length(schema.get("minLength", 0), schema.get("maxLength", 60))
        return "".join(self.rng.choice("ab cd-ef\n12") for _ in range(n))

    def number(self, schema: dict[str, Any], integer: bool) -> float:
        lo = schema.get("minimum", schema.get("exclusiveMinimum", -5))
        hi = schema.get("maximum", schema.get("exclusiveMaximum", 10_000))
        if "exclusiveMinimum" in schema:
            lo = lo + 1 if integer else lo + 1e-6
        if integer:
            return int(self.rng.choice([lo, hi, self.rng.randint(int(lo), int(hi))]))
        return float(self.rng.choice([lo, hi, self.rng.uniform(lo, hi)]))

    def value(self, schema: dict[str, Any]) -> Any:
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        kinds = schema.get("type", "object")
        kind = self.rng.choice(kinds) if isinstance(kinds, list) else kinds
        if kind == "null":
            return None
        if kind == "string":
            return self.string(schema)
        if kind in ("integer", "number"):
            return self.number(schema, kind == "integer")
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "array":
            items = schema.get("items", {"type": "string"})
            n = self.length(schema.get("minItems", 0), min(schema.get("maxItems", 4), 4))
            return [self.value(items) for _ in range(n)]
        return self.object(schema)

    def object(self, schema: dict[str, Any]) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties", {})
        if not props:
            # A free-form object is an evaluator spec (its meaning is not a bound), or a small
            # object whose field names its description lists (loop_start's stop): send none.
            described = str(schema.get("description", ""))
            return dict(VALID_SPEC) if "type" in described or "spec" in described else {}
        required = set(schema.get("required", ()))
        return {
            name: self.field(name, sub)
            for name, sub in props.items()
            if name in required or self.rng.random() < 0.6
        }

    def field(self, name: str, schema: dict[str, Any]) -> Any:
        """An existing id half the time (so calls reach the checks past "not found")."""
        if self.known.get(name) and self.rng.random() < 0.5:
            return self.rng.choice(self.known[name])
        return self.value(schema)


async def _existing_ids(client: Client) -> dict[str, list[str]]:
    """A plan with tasks, an open loop and an intercept for generated calls to name."""
    tasks = [{"id": f"t{i}", "title": f"task {i}", "acceptance": VALID_SPEC} for i in range(5)]
    plan = await ok(client, "plan_create", {"goal": "ship it", "tasks": tasks})
    loop = await ok(client, "loop_start", {"goal": "write it", "evaluator": VALID_SPEC})
    seen = await ok(client, "intercept", {"prompt": "Add a --json flag to plans list."})
    return {
        "plan_id": [plan["plan_id"]],
        "task_id": [t["id"] for t in tasks],
        "loop_id": [loop["loop_id"]],
        "history_id": [seen["history_id"]],
    }


async def _refusals(client: Client, tools: list[Any], seed: int) -> tuple[int, list[str]]:
    gen = Generator(seed, await _existing_ids(client))
    calls, bad = 0, []
    for tool in tools:
        for _ in range(CALLS_PER_TOOL):
            args = gen.object(tool.input_schema)
            result = await client.call_tool(tool.name, args)
            calls += 1
            text = text_of(result)
            if result.is_error and _BOUND_REFUSAL.search(text):
                bad.append(f"{tool.name}({json.dumps(args)[:300]}): {text[:300]}")
    return calls, bad


async def test_no_schema_valid_call_is_refused_for_an_unstated_bound(tmp_path: Path) -> None:
    """Calls generated from tools/list are never refused for a bound the schema did not state."""
    async with Client(build_server(make_settings(tmp_path))) as client:
        tools = [t for t in (await client.list_tools()).tools if t.name != "refine"]
        calls, bad = await _refusals(client, tools, seed=14)
    assert calls == CALLS_PER_TOOL * len(tools) and len(tools) >= 20
    assert bad == [], f"{len(bad)} of {calls} refused:\n" + "\n".join(bad[:10])


def test_generator_reads_every_published_pattern_form() -> None:
    """The published id pattern is the server's, in JSON Schema's spelling."""
    chars = set(_class_chars(_CLASS_PATTERN.fullmatch(ID_JSON_PATTERN)["cls"]))  # type: ignore[index]
    assert all(re.fullmatch(ID_PATTERN, c) for c in chars)
    assert len(chars) == 26 * 2 + 10 + 3
    assert f"{{1,{LIMITS.id_chars}}}" in ID_JSON_PATTERN


async def test_published_id_schemas_state_the_pattern(tmp_path: Path) -> None:
    """plan_id, task_id and loop_id publish the id pattern (compaction keeps it)."""
    async with Client(build_server(make_settings(tmp_path))) as client:
        tools = {t.name: t.input_schema for t in (await client.list_tools()).tools}
    assert tools["plan_record"]["properties"]["plan_id"]["pattern"] == ID_JSON_PATTERN
    assert tools["plan_record"]["properties"]["task_id"]["pattern"] == ID_JSON_PATTERN
    assert tools["loop_step"]["properties"]["loop_id"]["pattern"] == ID_JSON_PATTERN
    assert tools["intercept"]["properties"]["task_id"]["pattern"] == ID_JSON_PATTERN


class _Inner(Model):
    score: float
    note: str = ""


class _Outer(Model):
    name: str
    count: int
    scores: dict[str, float]
    inner: _Inner
    inners: list[_Inner]
    extra: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    maybe: float | None = None
    kind: Literal["a", "b"] = "a"


def test_results_round_every_float_and_drop_empty_optionals() -> None:
    """Floats are rounded wherever they are (plain, in mappings and lists, in nested models,
    in free-form details); text and ints are left as they are; empty optionals are left out,
    required fields are always sent."""
    out = _Outer(
        name="x 0.123456",
        count=7,
        scores={"clarity": 0.123456},
        inner=_Inner(score=2 / 3),
        inners=[_Inner(score=1 / 3, note="n")],
        extra={"deep": [{"v": 0.98765}]},
        maybe=1 / 7,
    )
    assert out.model_dump(mode="json") == {
        "name": "x 0.123456",
        "count": 7,
        "scores": {"clarity": 0.123},
        "inner": {"score": 0.667},
        "inners": [{"score": 0.333, "note": "n"}],
        "extra": {"deep": [{"v": 0.988}]},
        "maybe": 0.143,
        "kind": "a",
    }
    assert _Outer(name="", count=0, scores={}, inner=_Inner(score=0.0), inners=[]).model_dump(
        mode="json"
    ) == {"name": "", "count": 0, "scores": {}, "inner": {"score": 0.0}, "inners": [], "kind": "a"}


@pytest.mark.parametrize(
    ("annotation", "floatless"),
    [
        (str, True),
        (int, True),
        (bool, True),
        (str | None, True),
        (list[str], True),
        (tuple[str, ...], True),
        (dict[str, int], True),
        (Literal["a", 1], True),
        (_Inner, True),
        (list[_Inner] | None, True),
        (float, False),
        (float | None, False),
        (Literal[0.5], False),
        (dict[str, float], False),
        (dict[str, Any], False),
        (list[float], False),
        (Any, False),
        (dict, False),
    ],
)
def test_only_fields_that_cannot_hold_a_float_skip_rounding(
    annotation: Any, floatless: bool
) -> None:
    assert _floatless(annotation) is floatless
