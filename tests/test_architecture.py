"""The layout rules of DESIGN.md, checked on the source."""

from __future__ import annotations

import ast
import re
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
    """No source module passes the 1,000-line cap of STYLE.md (one concept per module)."""
    big = {
        str(p.relative_to(ROOT)): n
        for pkg in ("loopcore", "server")
        for p in (ROOT / pkg).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 1000
    }
    assert big == {}


def _packages() -> list[Path]:
    return sorted(
        p.parent for pkg in ("loopcore", "server") for p in (ROOT / pkg).rglob("__init__.py")
    )


def test_no_concept_is_split_by_size() -> None:
    """No module sits beside another whose name it extends (``plans_read.py`` by ``plans.py``)."""
    split = [
        str(p.relative_to(ROOT))
        for pkg in _packages()
        for p in pkg.glob("*_*.py")
        if (pkg / f"{p.stem.lstrip('_').split('_')[0]}.py").exists()
        and p.stem.lstrip("_").split("_")[0] != p.stem
    ]
    assert split == []


def _isort_key(name: str) -> tuple[int, str]:
    """Ruff's ``__all__`` order: CONSTANTS, then Classes, then functions."""
    bare = name.lstrip("_")
    kind = 0 if bare.isupper() else 1 if bare[:1].isupper() else 2
    return (kind, name)


def test_domain_packages_publish_a_sorted_contract() -> None:
    """Each loopcore package's ``__init__`` has a sorted ``__all__`` whose names all exist."""
    import importlib

    for pkg in _packages():
        rel = pkg.relative_to(ROOT)
        if rel.parts[0] != "loopcore":
            continue
        module = importlib.import_module(".".join(rel.parts))
        names = list(getattr(module, "__all__", []))
        assert names, f"{rel} has no __all__"
        assert names == sorted(names, key=_isort_key), f"{rel}: __all__ is not sorted"
        assert all(hasattr(module, n) for n in names), f"{rel}: __all__ names a missing name"


def test_tests_mirror_the_source_packages() -> None:
    """Every test folder under tests/loopcore and tests/server names a source package."""
    strays = [
        str(d.relative_to(ROOT))
        for top in ("loopcore", "server")
        for d in (ROOT / "tests" / top).rglob("*")
        if d.is_dir()
        and d.name != "__pycache__"
        and not (ROOT / d.relative_to(ROOT / "tests")).is_dir()
    ]
    assert strays == []


# Tool names that are not also words of the domain ("intercept" is a concept, "refine" the
# engine, "stats" a statistics module): no string in loopcore may name one.
_TOOL_NAMES = re.compile(
    r"\b(verify_output|loop_(start|step|end|status)|plan_(create|next_task|record|replan|"
    r"update_task|status|list|explain|archive|delete)|suggest_config|prompt_(stats|feedback))\b"
)
# Strings that use such a name as an identifier, not as advice: a journal kind, SQL.
_SQL = re.compile(r"\s*(SELECT|INSERT|CREATE|UPDATE|DELETE|ALTER|DROP)\b")


def _advice(text: str) -> bool:
    """Whether ``text`` names a tool in prose (not as a bare identifier or inside SQL)."""
    return (
        bool(_TOOL_NAMES.search(text)) and not _TOOL_NAMES.fullmatch(text) and not _SQL.match(text)
    )


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module except docstrings (a string standing as a statement)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def test_domain_messages_name_no_tool() -> None:
    """loopcore speaks its own language: no string literal names an MCP tool (hints are the
    server's and the CLI's)."""
    found = [
        f"{p.relative_to(ROOT)}:{line}: {text!r}"
        for p in sorted((ROOT / "loopcore").rglob("*.py"))
        for line, text in _strings(p)
        if _advice(text)
    ]
    assert found == []


def test_the_tool_name_scan_tells_advice_from_identifiers() -> None:
    """Prose naming a tool is caught; a bare journal kind or SQL naming a table is not."""
    assert _advice("no plan with id 'x'; call plan_list to see existing plans")
    assert not _advice("loop_step")
    assert not _advice("SELECT COUNT(*) FROM prompt_feedback")
