"""structlog to stderr, configured once by the entry point.

stdout is the MCP wire in stdio mode, so nothing here ever writes to it:
structlog renders to stderr (JSON when stderr is not a terminal, a console
renderer when it is), and stdlib logging (the SDK, uvicorn) is routed through
the same renderer to stderr. Configuring stdlib logging before ``MCPServer``
is built also turns the SDK's own ``logging.basicConfig`` into a no-op.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging"]

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record is emitted.

    Test runners swap ``sys.stderr`` per test; a handler holding the stream it
    was configured with would write to a closed one afterwards.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current stderr."""


def _renderers(stream: TextIO) -> list[Any]:
    """Console rendering on a terminal (it formats tracebacks itself), JSON lines otherwise."""
    if stream.isatty():
        return [structlog.dev.ConsoleRenderer(colors=False)]
    return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send structlog and stdlib logging to ``stream`` (stderr) at ``level``.

    Safe to call again (the entry point calls it at import with the default
    level, then with the configured one): the handler is replaced, not added.
    """
    out = stream if stream is not None else sys.stderr
    numeric = _LEVELS.get(level.lower(), logging.INFO)
    handler = logging.StreamHandler(out) if stream is not None else _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_renderers(out),
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # uvicorn installs its own handlers unless told not to; ours are enough.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,
    )
