"""Store faults at ``loopcore serve`` start: a clear message and exit 1, never a traceback.

Real files: a ``--db`` under a regular file, a ``<db>.lock`` that is a directory or cannot
be written, a database file that cannot be written, a ``--db`` that is a directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.serving import LOOPCORE, server_env

pytestmark = pytest.mark.slow


def _serve(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LOOPCORE, "serve", "--db", str(db)],
        env=server_env(db),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` cannot be written, even by root (an immutable file when running as root)."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        assert chattr is not None, "running as root needs chattr to make a file read-only"
        subprocess.run([chattr, "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", str(path)], check=True)
    else:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)


def _refused(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("loopcore serve: ")
    assert all(w in last for w in words), last


def test_db_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    """--db a/x.db where a is a file: names the directory that cannot be made."""
    (tmp_path / "a").write_text("not a directory")
    _refused(_serve(tmp_path / "a" / "x.db"), "cannot be created", str(tmp_path / "a"))


def test_db_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    """--db naming a directory says so."""
    _refused(_serve(tmp_path), "is a directory")


def test_lock_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    """<db>.lock as a directory: names the lock and says it is a directory."""
    (tmp_path / "x.db.lock").mkdir()
    _refused(_serve(tmp_path / "x.db"), "x.db.lock", "is a directory")


def test_lock_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    """<db>.lock that cannot be opened for writing: names the lock and the reason."""
    lock = tmp_path / "x.db.lock"
    lock.touch()
    with read_only(lock):
        _refused(_serve(tmp_path / "x.db"), "x.db.lock", "cannot be opened")


def test_read_only_database_is_refused_at_start(tmp_path: Path) -> None:
    """A database that can be read but not written is refused before serving, untouched."""
    db = tmp_path / "x.db"
    assert _serve(db).returncode == 0  # stdin closed at once: creates it and exits
    before = db.read_bytes()
    with read_only(db):
        proc = _serve(db)
    _refused(proc, "cannot be written", "readonly")
    assert db.read_bytes() == before
