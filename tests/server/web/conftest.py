"""Fixtures of the dashboard tests: a seeded store on a real file, the app on real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.types import ASGIApp

from loopcore.store import SqliteStore, open_store
from tests.server.web.seed import Seeded, seed


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    """A migrated store on a temporary database file."""
    s, _ = open_store(tmp_path / "loopcore.db")
    yield s
    s.close()


@pytest.fixture
def seeded(store: SqliteStore) -> Seeded:
    """The store filled by ``seed``."""
    return seed(store)


class Served:
    """An ASGI app served by uvicorn in a thread on a free port of 127.0.0.1."""

    def __init__(self, app: ASGIApp) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
