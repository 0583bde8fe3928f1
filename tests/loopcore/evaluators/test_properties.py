"""Property tests: any text and any valid spec give a score in [0, 1] and never raise."""

from __future__ import annotations

import math
from typing import Any

import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopcore.evaluators import build_evaluator, validate_spec
from loopcore.evaluators._words import STOPWORDS
from loopcore.evaluators.base import EvalContext

# Any code point, lone surrogates included: "binary-ish" text a model might emit.
TEXT = st.text(
    alphabet=st.characters(exclude_categories=()) | st.characters(categories=["Cs"]),
    max_size=400,
)
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8).filter(
    lambda w: w not in STOPWORDS
)
SCHEMAS = [
    {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
    {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "number"}},
    {"$defs": {"n": {"type": "number"}}, "anyOf": [{"$ref": "#/$defs/n"}, {"const": None}]},
    {"patternProperties": {"^x": {"type": "string"}}, "unevaluatedProperties": False},
    True,
]


def _pattern() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(min_size=1, max_size=10).map(regex.escape),
        st.sampled_from([r"\bpassed\b", r"^\s*$", r"(a+)+$", r"[0-9]+ failed", r"(?i)error"]),
    )


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    bound = st.none() | st.integers(0, 50)
    return st.one_of(
        st.builds(
            lambda r, f: {"type": "regex", "required": r, "forbidden": f},
            st.lists(_pattern(), min_size=1, max_size=3),
            st.lists(_pattern(), max_size=3),
        ),
        st.tuples(bound, bound, bound, bound)
        .filter(lambda b: any(x is not None for x in b))
        .map(
            lambda b: {
                "type": "length",
                "min_words": b[0],
                "max_words": None if b[1] is None else (b[0] or 0) + b[1],
                "min_chars": b[2],
                "max_chars": None if b[3] is None else (b[2] or 0) + b[3],
            }
        ),
        st.sampled_from(SCHEMAS).map(lambda s: {"type": "json_schema", "schema": s}),
        st.lists(st.lists(WORD, min_size=1, max_size=3).map(" ".join), min_size=1, max_size=4).map(
            lambda aspects: {"type": "completeness", "aspects": aspects}
        ),
        st.builds(
            lambda preset, counter: {"type": "evidence", "preset": preset, "counter": counter},
            st.sampled_from(["tests", "lint"]),
            st.lists(_pattern(), max_size=2),
        ),
    )


SPECS = st.recursive(
    _leaf(),
    lambda children: st.builds(
        lambda parts, mode: {"type": "composite", "parts": parts, "pass": mode},
        st.lists(
            st.builds(lambda w, s: {"weight": w, "spec": s}, st.floats(0.1, 10), children),
            min_size=1,
            max_size=3,
        ),
        st.sampled_from(["all", "weighted"]),
    ),
    max_leaves=4,
)

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(spec=SPECS, output=TEXT, goal=st.none() | TEXT)
def test_any_text_and_any_valid_spec_score_in_the_unit_interval(
    spec: dict[str, Any], output: str, goal: str | None
) -> None:
    """Whatever the text and the spec, the score is a number in [0, 1]."""
    result = build_evaluator(spec).evaluate(output, EvalContext(goal=goal))
    assert math.isfinite(result.score)
    assert 0.0 <= result.score <= 1.0
    assert result.feedback.startswith(f"Scored {result.score:.2f}/1.0")


@_SETTINGS
@given(spec=SPECS)
def test_validated_specs_build_again(spec: dict[str, Any]) -> None:
    """validate_spec's normalised form is a fixed point and builds."""
    normal = validate_spec(spec)
    assert validate_spec(normal) == normal
    assert build_evaluator(normal).name == spec["type"]


@settings(max_examples=20, deadline=None)
@given(spec=_leaf(), seed=st.binary(min_size=1, max_size=64))
def test_huge_binary_ish_output_scores_in_the_unit_interval(
    spec: dict[str, Any], seed: bytes
) -> None:
    """A megabyte of decoded random bytes gives a score in [0, 1]."""
    output = (seed * (1_000_000 // len(seed) + 1)).decode("utf-8", "surrogateescape")
    result = build_evaluator(spec).evaluate(output)
    assert 0.0 <= result.score <= 1.0


def test_lone_surrogates_and_control_characters_are_scored() -> None:
    """Lone surrogates, NUL and non-characters give a score in [0, 1] for every leaf type."""
    output = '\ud800 \x00 \uffff \U0010ffff 12 passed ```json\n{"a": "\udfff"}\n```'
    specs: list[dict[str, Any]] = [
        {"type": "regex", "required": ["passed"], "forbidden": ["\\x00"]},
        {"type": "length", "max_chars": 5},
        {"type": "json_schema", "schema": SCHEMAS[0]},
        {"type": "completeness", "aspects": ["passed tests"]},
        {"type": "evidence", "preset": "tests"},
    ]
    scores = [build_evaluator(spec).evaluate(output).score for spec in specs]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] == 0.5  # "passed" found, the NUL forbidden pattern matched
