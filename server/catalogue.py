"""tools/list without building every tool at start-up: tools built on first use, and the
published catalogue kept beside the code.

Building a tool (the SDK's argument model, its input and output JSON Schemas) costs
about 2 ms of pydantic work; for 24 tools that was a tenth of a server's start-up
CPU, spent before the first ``tools/list`` could be answered, while most sessions
call a handful of tools. So:

- ``LazyTools`` (the server's tool manager) takes each tool as a *builder* and builds
  it when it is first needed: a call, its input schema, or a listing without a cached
  catalogue. The order of registration is the order of the listing, as before. Given a
  *loader*, it does not even hold the builders at first: the loader (which imports the
  tool modules, their schemas and the domain they use, and registers the tools) runs
  when the first tool is needed, so a server that has only answered ``tools/list`` from
  a saved catalogue has imported none of them.
- ``load``/``save`` keep the published catalogue (the ``tools/list`` answer, compacted)
  in ``__pycache__`` beside this module, as Python keeps compiled modules there. Its
  file name holds a fingerprint of everything the catalogue is made from: the Python
  version, the installed ``mcp``, ``mcp_types``, ``pydantic`` and ``pydantic_core``
  (their package files' size and modification time), every ``.py`` file of ``server``
  and ``loopcore`` (likewise), and the settings the registered tools depend on (the
  tool set, and whether agents may answer approvals: ``server.app.catalogue_variant``).
  A change to any of them is a different file, so a stale catalogue is never read; a
  missing, unreadable or unwritable file only means the tools are built, as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import structlog
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.tools.tool_manager import ToolManager
from mcp.types import Tool as MCPTool
from pydantic import ValidationError

__all__ = ["LazyTools", "cache_dir", "fingerprint", "load", "save"]

log = structlog.get_logger(__name__)

_PREFIX = "loopcore-tools-"


class LazyTools(ToolManager):
    """The SDK's tool manager, building each tool on first use (see the module docstring)."""

    def __init__(
        self, warn_on_duplicate_tools: bool = True, *, loader: Callable[[], None] | None = None
    ) -> None:
        super().__init__(warn_on_duplicate_tools)
        self._builders: dict[str, Callable[[], Tool]] = {}
        self._order: list[str] = []
        self._loader = loader
        self._registered: tuple[str, ...] = ()

    @property
    def loaded(self) -> bool:
        """Whether the loader has run (or there was none): the tools are registered."""
        return self._loader is None

    def load(self) -> None:
        """Run the loader if it has not run yet (it registers the tools through ``defer``)."""
        loader, self._loader = self._loader, None
        if loader is None:
            return
        try:
            loader()
        except BaseException:
            # Not half-registered: the next use runs the loader again (and fails the same way).
            self._builders.clear()
            self._order.clear()
            self._loader = loader
            raise
        self._registered = self.names

    @property
    def as_registered(self) -> bool:
        """Whether the tools are exactly those the loader registered (none added or removed
        since), so their catalogue is the one saved for the settings."""
        return self.loaded and self.names == self._registered

    @property
    def names(self) -> tuple[str, ...]:
        """Every registered tool's name, built or not, in listing order (loads the tools)."""
        self.load()
        return (*self._order, *(n for n in self._tools if n not in self._order))

    @property
    def pending(self) -> bool:
        """Whether some registered tool is not built yet."""
        return bool(self._builders)

    def defer(self, name: str, build: Callable[[], Tool]) -> None:
        """Register the tool ``name``, built by ``build()`` when first needed."""
        if name in self._order or name in self._tools:
            raise ValueError(f"tool {name!r} is registered twice")
        self._builders[name] = build
        self._order.append(name)

    def amend(self, name: str, change: Callable[[Tool], None]) -> None:
        """Apply ``change`` to the tool ``name`` once it is built (at once if it is)."""
        self.load()
        build = self._builders.get(name)
        if build is None:
            tool = self.get_tool(name)
            if tool is not None:
                change(tool)
            return

        def amended() -> Tool:
            tool = build()
            change(tool)
            return tool

        self._builders[name] = amended

    def get_tool(self, name: str) -> Tool | None:
        """The tool ``name``, built now if it was not yet."""
        self.load()
        build = self._builders.pop(name, None)
        if build is not None:
            self._tools[name] = build()
        return super().get_tool(name)

    def list_tools(self) -> list[Tool]:
        """Every tool, built, in registration order (tools added directly come last)."""
        self.load()
        for name in list(self._builders):
            self.get_tool(name)
        ordered = [self._tools[n] for n in self._order if n in self._tools]
        return ordered + [t for n, t in self._tools.items() if n not in self._order]

    def add_tool(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Tool:
        """Build and add the tool ``fn`` now (after the loader's tools, which it loads)."""
        self.load()
        return super().add_tool(fn, *args, **kwargs)

    def remove_tool(self, name: str) -> None:
        """Forget the tool ``name``, built or not."""
        self.get_tool(name)
        super().remove_tool(name)
        if name in self._order:
            self._order.remove(name)


def cache_dir() -> Path:
    """Where catalogues are kept: ``server/__pycache__``."""
    return Path(__file__).resolve().parent / "__pycache__"


def _stamps(paths: Iterable[Path]) -> list[str]:
    stamps: list[str] = []
    for path in paths:
        st = path.stat()
        stamps.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    return stamps


def _package_root(name: str) -> Path:
    module = sys.modules.get(name) or __import__(name)
    return Path(str(module.__file__)).resolve().parent


def fingerprint(variant: str) -> str:
    """The file key of the published catalogue of the tools registered under ``variant``.

    ``<code>-<variant>``: ``code`` hashes the Python version, the installed SDK and
    pydantic (their ``__init__.py``, rewritten by any upgrade) and every ``.py`` file of
    ``server`` and ``loopcore``; ``variant`` names the settings the registered tools
    depend on (``server.app.catalogue_variant``).
    """
    ours = [p for n in ("server", "loopcore") for p in sorted(_package_root(n).rglob("*.py"))]
    theirs = [
        _package_root(n) / "__init__.py" for n in ("mcp", "mcp_types", "pydantic", "pydantic_core")
    ]
    code = "\n".join([sys.version, *_stamps(theirs), *_stamps(ours)])
    return f"{_digest(code)}-{_digest(variant)}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _file(key: str) -> Path:
    return cache_dir() / f"{_PREFIX}{key}.json"


def load(key: str) -> list[MCPTool] | None:
    """The catalogue saved under ``key``, or None (none saved, or unreadable)."""
    try:
        data = json.loads(_file(key).read_text(encoding="utf-8"))
        return [MCPTool.model_validate(t) for t in data]
    except (OSError, ValueError, TypeError, ValidationError):
        return None


def save(key: str, tools: Sequence[MCPTool]) -> None:
    """Keep ``tools`` under ``key`` (written whole, then renamed); those of older code go."""
    data = [t.model_dump(by_alias=True, mode="json", exclude_unset=True) for t in tools]
    folder = cache_dir()
    try:
        folder.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_PREFIX, suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(tmp, _file(key))
    except OSError as exc:
        log.debug("tool_catalogue_not_saved", folder=str(folder), error=str(exc))
        return
    code = key.split("-", 1)[0]
    for old in folder.glob(f"{_PREFIX}*.json"):
        if not old.name.startswith(f"{_PREFIX}{code}-"):
            old.unlink(missing_ok=True)
