"""The factory's cache of built evaluators: shared per spec and options, bounded, never stale."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from loopcore.errors import InvalidInput
from loopcore.evaluators import build_evaluator, evaluator_types, register_evaluator
from loopcore.evaluators._budget import Budgeted
from loopcore.evaluators.base import EvalContext, Evaluation, Evaluator
from loopcore.evaluators.factory import (
    EVALUATOR_CACHE_SIZE,
    FactoryOptions,
    clear_evaluator_cache,
)
from loopcore.evaluators.text import RegexEvaluator

_unique = count()


def _regex_spec(tag: str | None = None) -> dict[str, Any]:
    """A regex spec no other test builds (the cache is process-wide)."""
    return {"type": "regex", "required": [f"ok-{tag or next(_unique)}"]}


def _composite_spec(tag: str) -> dict[str, Any]:
    return {
        "type": "composite",
        "parts": [
            {"weight": 1, "spec": _regex_spec(tag)},
            {"weight": 2, "spec": {"type": "length", "min_words": 2}},
            {
                "weight": 1,
                "spec": {
                    "type": "json_schema",
                    "schema": {"type": "object", "required": [tag]},
                },
            },
        ],
    }


def test_same_spec_twice_returns_the_cached_instance() -> None:
    """A second build of an equal spec with equal options is the very same evaluator."""
    spec = _composite_spec("same-twice")
    first = build_evaluator(spec, FactoryOptions())
    assert build_evaluator(spec, FactoryOptions()) is first


def test_key_order_and_json_text_share_one_entry() -> None:
    """The key is the canonical JSON: key order and mapping-or-text do not matter."""
    spec = _regex_spec("canonical")
    first = build_evaluator(spec)
    reordered = json.dumps(dict(reversed(list(spec.items()))))
    assert build_evaluator(reordered) is first


def test_different_options_do_not_share() -> None:
    """Another regex time limit builds another evaluator, carrying that limit."""
    spec = _regex_spec("options")
    fast = build_evaluator(spec, FactoryOptions(regex_timeout_s=0.1))
    slow = build_evaluator(spec, FactoryOptions(regex_timeout_s=0.2))
    assert fast is not slow
    assert isinstance(fast, Budgeted) and isinstance(slow, Budgeted)
    assert isinstance(fast.inner, RegexEvaluator) and isinstance(slow.inner, RegexEvaluator)
    assert (fast.inner.required[0].timeout_s, slow.inner.required[0].timeout_s) == (0.1, 0.2)


def test_cache_is_bounded_least_recently_used_first() -> None:
    """After EVALUATOR_CACHE_SIZE other specs, the oldest entry is built afresh."""
    clear_evaluator_cache()
    oldest = build_evaluator(_regex_spec("bounded-oldest"))
    recent = build_evaluator(_regex_spec("bounded-recent"))
    for _ in range(EVALUATOR_CACHE_SIZE - 2):
        build_evaluator(_regex_spec())
    assert build_evaluator(_regex_spec("bounded-recent")) is recent  # a hit: now most recent
    build_evaluator(_regex_spec())  # one more entry evicts the least recently used
    assert build_evaluator(_regex_spec("bounded-oldest")) is not oldest
    assert build_evaluator(_regex_spec("bounded-recent")) is recent


def test_clearing_the_cache_builds_afresh() -> None:
    """clear_evaluator_cache forgets every built evaluator."""
    spec = _regex_spec("cleared")
    first = build_evaluator(spec)
    clear_evaluator_cache()
    assert build_evaluator(spec) is not first


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"type": "length", "min_words": -1}, "min_words"),
        ({"type": "json_schema", "schema": {"type": "no-such-type"}}, "schema"),
        (
            {"type": "composite", "parts": [{"spec": {"type": "regex", "required": ["(x"]}}]},
            "parts.0.spec.required.0.pattern",
        ),
    ],
)
def test_invalid_spec_raises_on_every_build(spec: dict[str, Any], field: str) -> None:
    """A spec that fails is not remembered: each build raises the same error."""
    fields = []
    for _ in range(3):
        with pytest.raises(InvalidInput) as caught:
            build_evaluator(spec)
        fields.append(caught.value.field)
    assert fields == [field] * 3


def _command_options(root: Path) -> FactoryOptions:
    return FactoryOptions(allow_commands=frozenset({sys.executable}), project_root=root)


def test_command_specs_are_rebuilt_and_rechecked(tmp_path: Path) -> None:
    """A command's path checks run on every build: a symlink made since is refused."""
    root = tmp_path / "proj"
    root.mkdir()
    spec = {"type": "command", "run": [sys.executable, "link"]}
    options = _command_options(root)
    first = build_evaluator(spec, options)
    assert build_evaluator(spec, options) is not first
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidInput) as caught:
        build_evaluator(spec, options)
    assert caught.value.field == "run.1"


def test_composite_with_a_command_part_is_not_cached(tmp_path: Path) -> None:
    """One command part makes the whole composite uncached."""
    spec = {
        "type": "composite",
        "parts": [
            {"spec": _regex_spec("with-command")},
            {"spec": {"type": "command", "run": [sys.executable, "-V"]}},
        ],
    }
    options = _command_options(tmp_path)
    assert build_evaluator(spec, options) is not build_evaluator(spec, options)


class _CountSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["count_calls_test"]


class _CountCalls:
    """A stateful evaluator: the reason custom types are not cached unless they say so."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def name(self) -> str:
        return "count_calls_test"

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        self.calls += 1
        return Evaluation.of(1.0, True, details={"calls": self.calls})


def _build_count(spec: _CountSpec, options: FactoryOptions) -> Evaluator:
    return _CountCalls()


def test_registered_types_are_not_cached_by_default() -> None:
    """A type registered without cacheable=True gets a fresh evaluator per build."""
    if "count_calls_test" not in evaluator_types():
        register_evaluator("count_calls_test", _CountSpec, _build_count)
    spec = {"type": "count_calls_test"}
    first, second = build_evaluator(spec), build_evaluator(spec)
    assert first is not second
    assert [first.evaluate("x").details["calls"], second.evaluate("x").details["calls"]] == [1, 1]


def test_a_shared_evaluator_scores_alike_from_many_threads() -> None:
    """The cached composite is safe to share: concurrent calls give what a serial call gives."""
    evaluator = build_evaluator(_composite_spec("threads"))
    outputs = [f'ok-threads run {i}\n```json\n{{"threads": {i}}}\n```' for i in range(8)]
    outputs += [f"no json here, run {i}" for i in range(8)]
    serial = [evaluator.evaluate(o) for o in outputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        shared = list(
            pool.map(lambda o: build_evaluator(_composite_spec("threads")).evaluate(o), outputs)
        )
    assert shared == serial
    assert [e.passed for e in serial] == [True] * 8 + [False] * 8
