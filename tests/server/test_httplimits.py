"""The accept-error filter and the timed h11 protocol class (their sockets: tests/e2e)."""

from __future__ import annotations

import logging
import sys

from server.httplimits import QuietAcceptErrors, timed_protocol


def _record(msg: str) -> logging.LogRecord:
    try:
        raise OSError(24, "Too many open files")
    except OSError:
        exc_info = sys.exc_info()
    return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, None, exc_info)


def test_one_accept_error_per_interval_passes_with_the_count() -> None:
    """Three errors in one interval: the first passes; the next interval's says 2 were dropped."""
    clock = iter([0.0, 1.0, 2.0, 61.0])
    quiet = QuietAcceptErrors(60.0, clock=lambda: next(clock))
    passed = [quiet.filter(_record("socket.accept() out of system resource")) for _ in range(4)]
    last = _record("socket.accept() out of system resource")
    assert passed == [True, False, False, True]
    assert quiet.suppressed == 0
    clock = iter([200.0])
    assert quiet.filter(last)
    assert "0 more accept errors" in str(last.msg)
    assert last.exc_info is None


def test_other_records_pass_untouched() -> None:
    """Anything but the accept noise passes as it is, traceback included."""
    quiet = QuietAcceptErrors(60.0, clock=lambda: 0.0)
    record = _record("Task exception was never retrieved")
    assert quiet.filter(record) and quiet.filter(record)
    assert record.exc_info is not None


def test_timed_protocol_carries_its_deadlines() -> None:
    """The protocol class for uvicorn is made with the configured deadlines."""
    proto = timed_protocol(2.5, 9.0)
    assert (proto.header_timeout_s, proto.body_timeout_s) == (2.5, 9.0)  # type: ignore[attr-defined]
