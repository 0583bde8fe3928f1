"""A package's names imported on first access."""

from __future__ import annotations

import sys

import pytest

import loopcore
from loopcore._lazy import lazy_names


def test_a_name_is_imported_when_first_read_and_kept() -> None:
    namespace: dict[str, object] = {"__name__": "pkg"}
    getattr_ = lazy_names(namespace, {"dedent": "textwrap"})
    dedent = getattr_("dedent")
    assert dedent is sys.modules["textwrap"].dedent
    assert namespace["dedent"] is dedent  # later reads find it without the hook
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        getattr_("nope")


def test_loopcore_publishes_its_contracts_lazily() -> None:
    """The evaluator contract comes from its module; an unknown name is an AttributeError."""
    from loopcore.evaluators.base import Evaluator

    assert loopcore.Evaluator is Evaluator
    with pytest.raises(AttributeError):
        _ = loopcore.nothing_here
