"""Fixtures for the whole suite: async tests run under anyio's plugin, on asyncio."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Every ``@pytest.mark.anyio`` test runs on asyncio (the SDK's own loop)."""
    return "asyncio"
