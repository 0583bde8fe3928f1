"""The runtime: the store opened (and checked) once per process, the services built on first use."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from loopcore.clock import system_clock
from loopcore.errors import StoreError
from server.runtime import Runtime
from tests.server.helpers import make_settings


def test_acquire_opens_the_store_and_the_services_come_on_first_use(tmp_path: Path) -> None:
    """The store is migrated, restored and logged at acquire; the services only when asked."""
    runtime = Runtime(make_settings(tmp_path), system_clock)
    with capture_logs() as logs:
        runtime.acquire()
    try:
        built_at_acquire = runtime._services is not None
        services = runtime.services
        plan = services.plans.create("test-project", "ship", [{"id": "a", "title": "A"}]).plan
        assert runtime.services is services
    finally:
        runtime.release()
    assert [e["event"] for e in logs] == ["store_restored"]
    assert runtime.report is not None and runtime.report.schema_version > 0
    assert not built_at_acquire
    assert plan.id.startswith("pl_")


def test_release_closes_a_store_whose_services_were_never_built(tmp_path: Path) -> None:
    """A session that called no tool still closes the store; then the services are refused."""
    runtime = Runtime(make_settings(tmp_path), system_clock)
    runtime.acquire()
    with capture_logs() as logs:
        runtime.release()
    assert [e["event"] for e in logs] == ["store_closed"]
    with pytest.raises(StoreError, match="not open"):
        _ = runtime.services


def test_services_outside_a_session_are_refused(tmp_path: Path) -> None:
    """Before any session holds the store, asking for the services is a StoreError."""
    runtime = Runtime(make_settings(tmp_path), system_clock)
    with pytest.raises(StoreError, match="not open"):
        _ = runtime.services
