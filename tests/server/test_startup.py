"""Start-up with the cyclic collector paused (``server.startup``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from server.startup import paused_gc


@pytest.fixture
def collector_on() -> Iterator[None]:
    """The collector on and nothing frozen before the test, and again after it."""
    was_on = gc.isenabled()
    gc.enable()
    yield
    gc.unfreeze()
    if not was_on:
        gc.disable()


def test_the_collector_is_off_inside_and_on_again_after(collector_on: None) -> None:
    """paused_gc turns the collector off for the block and back on when it ends."""
    with paused_gc():
        inside = gc.isenabled()
    assert (inside, gc.isenabled()) == (False, True)


def test_the_collector_comes_back_after_an_error(collector_on: None) -> None:
    """An exception in the block still turns the collector back on."""
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("start-up failed")
    assert gc.isenabled() is True


def test_a_collector_that_was_off_stays_off(collector_on: None) -> None:
    """paused_gc never turns on a collector someone else had turned off."""
    gc.disable()
    with paused_gc():
        pass
    assert gc.isenabled() is False


def test_freeze_keeps_what_start_up_built_out_of_later_collections(collector_on: None) -> None:
    """freeze=True moves every live object to the permanent generation on leaving."""
    gc.unfreeze()
    with paused_gc(freeze=True):
        built = [object() for _ in range(10)]
    assert gc.get_freeze_count() >= len(built)


def _collections_after(freeze: bool) -> list[int]:
    """The generations collected while a few containers are allocated after a paused block
    that made 5,000 of them."""
    seen: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(watch)
    try:
        with paused_gc(freeze=freeze):
            made: list[list[int]] = [[] for _ in range(5000)]
        made += [[] for _ in range(10)]
    finally:
        gc.callbacks.remove(watch)
    assert len(made) == 5010
    return seen


def test_leaving_with_freeze_leaves_no_collection_owed(collector_on: None) -> None:
    """Objects made while paused are frozen on leaving; without freeze, the next allocation
    pays a young collection that walks every one of them."""
    assert _collections_after(freeze=True) == []
    assert _collections_after(freeze=False)[:1] == [0]
