"""Start-up without the cyclic garbage collector, and its objects kept out of later collections.

Starting a server imports the MCP SDK, pydantic and loopcore: about 90,000 tracked
objects, nearly none of them garbage (under a thousand are cycles to collect). With the
collector on, each allocation burst triggers collections that walk them all again
(about a tenth of the start-up CPU, measured with ``bench/coldstart.py``). While
``paused_gc()`` is open the collector is off; on leaving, ``freeze=True`` moves what
start-up built to the permanent generation (``gc.freeze``, which also clears the count
of allocations waiting for a collection), so neither the next allocation nor the
collections of a long-running server walk it again. Without ``freeze`` the collector
comes back owing a young collection of everything made in the block, which the first
allocation pays (20 ms after the SDK's import). Reference counting frees everything that
is not a cycle meanwhile, as always.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc(*, freeze: bool = False) -> Iterator[None]:
    """Turn the cyclic collector off inside the block (unless it already was).

    Args:
        freeze: on leaving, move every object alive to the permanent generation
            (for the start-up of a long-running server).
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_on:
            gc.enable()
