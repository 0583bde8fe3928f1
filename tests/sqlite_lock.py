"""Another program holding a SQLite database's write lock, for tests of what waits for it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["write_lock_held"]


def _hold(path: Path, ready: threading.Event, release: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        ready.set()
        release.wait(30)
        conn.execute("ROLLBACK")
    finally:
        conn.close()


@contextmanager
def write_lock_held(path: Path) -> Iterator[threading.Event]:
    """A connection of its own holds ``path``'s write lock (``BEGIN IMMEDIATE``) until the
    event this yields is set, or the block ends."""
    ready, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(path, ready, release), daemon=True)
    holder.start()
    try:
        if not ready.wait(10):
            raise RuntimeError(f"could not take the write lock of {path}")
        yield release
    finally:
        release.set()
        holder.join(10)
