"""The shipped calibration: found in the installed package, checked, and used."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import pytest

from loopcore.errors import InvalidInput
from loopcore.intercept import DIMENSIONS, load_calibration
from loopcore.intercept.calibration import CALIBRATION_FILE, parse_calibration
from loopcore.intercept.dimensions import DEFAULT_WEIGHTS

ROOT = Path(__file__).resolve().parents[3]


def test_calibration_json_ships_inside_the_package() -> None:
    """calibration.json is package data, readable through importlib.resources."""
    text = resources.files("loopcore.intercept").joinpath(CALIBRATION_FILE).read_text("utf-8")
    doc = json.loads(text)
    assert set(doc["weights"]) == set(DIMENSIONS)
    assert doc["meta"]["n"] == 145
    assert set(doc["meta"]["cv"]) >= {
        "auc_out_of_fold",
        "auc_length_baseline",
        "spearman_out_of_fold",
    }


def test_loaded_calibration_is_the_shipped_one_normalised() -> None:
    """The scorer uses the shipped weights, summing to 1."""
    calibration = load_calibration()
    assert calibration.source == CALIBRATION_FILE
    assert math.isclose(sum(calibration.weights.values()), 1.0)
    assert all(w >= 0 for w in calibration.weights.values())


def test_parse_normalises_weights() -> None:
    """Weights are scaled to sum to 1."""
    doc = {"weights": {d: 2.0 for d in DIMENSIONS}}
    assert parse_calibration(doc).weights == {d: 1 / 6 for d in DIMENSIONS}


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], "calibration"),
        ({"weights": {"specificity": 1.0}}, "weights"),
        ({"weights": {**DEFAULT_WEIGHTS, "specificity": -1.0}}, "weights.specificity"),
        ({"weights": {**DEFAULT_WEIGHTS, "context": "x"}}, "weights.context"),
        ({"weights": {**DEFAULT_WEIGHTS, "context": float("inf")}}, "weights.context"),
        ({"weights": {d: 0.0 for d in DIMENSIONS}}, "weights"),
    ],
)
def test_malformed_calibration_is_invalid(doc: object, field: str) -> None:
    """Wrong shapes, names or numbers are refused (the loader then falls back to defaults)."""
    with pytest.raises(InvalidInput) as info:
        parse_calibration(doc)
    assert info.value.field == field
