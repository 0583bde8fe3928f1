"""Logging: structlog and stdlib both go to the configured stream (stderr), never stdout."""

from __future__ import annotations

import io
import json
import logging

import structlog

from server.logs import configure_logging


def test_structlog_writes_json_lines_to_the_stream(capsys: object) -> None:
    """A structlog event is one JSON line on the stream when it is not a terminal."""
    out = io.StringIO()
    configure_logging("info", stream=out)
    try:
        structlog.get_logger("t").info("hello", n=3)
    finally:
        configure_logging()
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (line["event"], line["n"], line["level"]) == ("hello", 3, "info")


def test_stdlib_logging_is_routed_to_the_same_stream() -> None:
    """The SDK's stdlib loggers land on the same stream, rendered the same way."""
    out = io.StringIO()
    configure_logging("info", stream=out)
    try:
        logging.getLogger("mcp.server").warning("from the sdk")
    finally:
        configure_logging()
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (line["event"], line["level"], line["logger"]) == (
        "from the sdk",
        "warning",
        "mcp.server",
    )


def test_level_filters_debug() -> None:
    """At level warning, info events are dropped."""
    out = io.StringIO()
    configure_logging("warning", stream=out)
    try:
        structlog.get_logger().info("quiet")
        logging.getLogger("x").info("quiet too")
    finally:
        configure_logging()
    assert out.getvalue() == ""


def test_nothing_reaches_stdout(capsys: object) -> None:
    """Logging never writes to stdout."""
    configure_logging("debug")
    try:
        structlog.get_logger().info("to stderr")
        logging.getLogger("y").error("also stderr")
    finally:
        configure_logging()
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    assert captured.out == ""
    assert "to stderr" in captured.err
