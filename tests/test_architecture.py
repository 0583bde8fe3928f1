"""The layout rules of DESIGN.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import loopcore

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"mcp", "server", "starlette", "uvicorn", "sse_starlette"}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_never_imports_the_mcp_layer() -> None:
    """No module under loopcore/ imports mcp, server, starlette or uvicorn."""
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imported_roots(p) & FORBIDDEN)
        for p in (ROOT / "loopcore").rglob("*.py")
        if _imported_roots(p) & FORBIDDEN
    }
    assert offenders == {}


def test_domain_never_reads_the_environment() -> None:
    """loopcore reads no environment variable: settings come from the server."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "loopcore").rglob("*.py")
        if "os.environ" in p.read_text(encoding="utf-8")
        or "os.getenv" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_public_api_is_sorted_and_importable() -> None:
    """loopcore.__all__ is sorted and every name in it exists."""
    names = list(loopcore.__all__)
    assert names == sorted(names)
    assert all(hasattr(loopcore, name) for name in names)


def test_packages_are_typed() -> None:
    """Both packages ship a py.typed marker."""
    assert (ROOT / "loopcore" / "py.typed").exists()
    assert (ROOT / "server" / "py.typed").exists()


def test_modules_stay_under_the_size_cap() -> None:
    """No source module passes the 500-line hard cap of STYLE.md."""
    big = {
        str(p.relative_to(ROOT)): n
        for pkg in ("loopcore", "server")
        for p in (ROOT / pkg).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert big == {}
