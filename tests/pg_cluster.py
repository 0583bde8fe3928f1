"""A throwaway PostgreSQL cluster for tests and benchmarks (RECIPES.md section 1).

``initdb`` + ``pg_ctl start`` in a ``mktemp -d /tmp/pgtest.XXXXXX`` directory, on a
free port, with ``fsync=off``; as root the binaries run as the ``postgres`` user
(PostgreSQL refuses to run as root). ``find_bin()`` is None when PostgreSQL is not
installed (``apt-get install -y postgresql``).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

__all__ = ["Cluster", "find_bin"]


def find_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding ``initdb``, or None."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    if not found:
        return None
    return max(found, key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One running cluster; ``url(db)`` connects as the ``postgres`` superuser (trust)."""

    def __init__(
        self, pg_bin: Path, *, synchronous_commit: bool = False, fsync: bool = False
    ) -> None:
        # synchronous_commit=off is faster, but an immediate stop then loses the last commits.
        self.bin = pg_bin
        self._sync = "on" if synchronous_commit else "off"
        self._fsync = "on" if fsync else "off"
        self.dir = Path(tempfile.mkdtemp(prefix="pgtest.", dir="/tmp"))
        self.port = _free_port()
        self._as_root = os.geteuid() == 0
        self._names = itertools.count(1)
        if self._as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.dir / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bin / tool), *args]
        if self._as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> None:
        """Start (or restart after ``stop``) the server on the same port and data."""
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
            f"-c fsync={self._fsync} -c full_page_writes={self._fsync} "
            f"-c synchronous_commit={self._sync} -c max_connections=200"
        )
        data, log = str(self.dir / "data"), str(self.dir / "log")
        self._run("pg_ctl", "-D", data, "-l", log, "-w", "-t", "30", "-o", opts, "start")

    def stop(self) -> None:
        """Stop the server at once (connections are cut, as in a crash)."""
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")

    def url(self, dbname: str = "postgres") -> str:
        """A connection URL for ``dbname``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, template: str | None = None) -> str:
        """A new empty database (copied from ``template`` when given); returns its name."""
        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            if template is None:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
                )
            else:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        psycopg.sql.Identifier(name), psycopg.sql.Identifier(template)
                    )
                )
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, cutting any connection still open to it."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    psycopg.sql.Identifier(name)
                )
            )

    def destroy(self) -> None:
        """Stop the server and delete its directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
