"""A fair queue for writers of one database file, across threads and processes.

SQLite's own busy handler sleeps with growing back-off (up to 100 ms between
tries). Under steady contention a writer that has backed off keeps finding the
lock taken by writers that have not, and can wait past the busy timeout:
"database is locked" although every transaction is short. So writers first
take an advisory ``flock`` on ``<db>.lock``, polling at most every 2 ms, and
only then ``BEGIN IMMEDIATE`` (which then finds the database free unless a
program other than loopcore writes to it, where SQLite's busy timeout still
applies). Every thread has its own descriptor, so threads queue too; the
kernel drops the lock when a process dies.

Windows has no ``flock``: there the lock is a no-op and SQLite's busy timeout
alone serialises writers.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loopcore.errors import StoreError

if sys.platform != "win32":
    import fcntl

__all__ = ["WriterLock"]

_FIRST_WAIT_S = 0.0002
_MAX_WAIT_S = 0.002


class WriterLock:
    """An exclusive, per-file writer lock with a timeout.

    Args:
        path: the lock file (created if missing).
        timeout_s: how long to wait before giving up with ``StoreError``.
    """

    def __init__(self, path: Path, timeout_s: float) -> None:
        self._path = path
        self._timeout_s = timeout_s
        self._local = threading.local()
        self._guard = threading.Lock()
        self._fds: list[int] = []

    def _fd(self) -> int:
        fd: int | None = getattr(self._local, "fd", None)
        if fd is None:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            with self._guard:
                self._fds.append(fd)
            self._local.fd = fd
        return fd

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the duration of the block.

        Raises:
            StoreError: another writer held it for longer than the timeout.
        """
        if sys.platform == "win32":
            yield
            return
        fd = self._fd()
        deadline = time.monotonic() + self._timeout_s
        wait = _FIRST_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"another writer held {self._path} for more than {self._timeout_s:g} s; "
                        "try again"
                    ) from None
                time.sleep(wait * (0.5 + random.random()))  # noqa: S311 (jitter, not secrets)
                wait = min(wait * 2, _MAX_WAIT_S)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def try_hold(self) -> bool:
        """Take the lock if no one holds it (then ``release`` it); False at once if held."""
        if sys.platform == "win32":
            return True
        try:
            fcntl.flock(self._fd(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        """Let go of a lock ``try_hold`` took."""
        if sys.platform != "win32":
            fcntl.flock(self._fd(), fcntl.LOCK_UN)

    def close(self) -> None:
        """Close every thread's descriptor."""
        with self._guard:
            fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)
