"""The writer queue in front of BEGIN IMMEDIATE."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from loopcore.errors import StoreError
from loopcore.store.sqlite.writer_lock import WriterLock

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX-only")


@posix_only
def test_a_held_lock_times_out_another_thread(tmp_path: Path) -> None:
    """While one thread holds the lock, another gives up after its timeout with StoreError."""
    lock = WriterLock(tmp_path / "db.lock", timeout_s=0.05)
    errors: list[str] = []

    def contender() -> None:
        try:
            with lock.hold():
                errors.append("acquired")
        except StoreError as exc:
            errors.append(str(exc))

    with lock.hold():
        worker = threading.Thread(target=contender)
        worker.start()
        worker.join()
    lock.close()
    assert len(errors) == 1
    assert errors[0].startswith("another writer held")


@posix_only
def test_writers_take_turns(tmp_path: Path) -> None:
    """Four threads incrementing a shared counter under the lock never interleave."""
    lock = WriterLock(tmp_path / "db.lock", timeout_s=5)
    inside = 0
    overlaps = 0
    done = 0

    def work() -> None:
        nonlocal inside, overlaps, done
        for _ in range(200):
            with lock.hold():
                inside += 1
                time.sleep(0.0001)  # let the other threads run while the lock is held
                overlaps += inside > 1
                done += 1
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lock.close()
    assert (done, overlaps) == (800, 0)
