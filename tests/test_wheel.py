"""The built wheel: what it ships, and its compiled scorer, which must score as the sources do.

One wheel is built for the module, as ``pip install .`` builds it (the mypyc
hook in ``hatch_build.py`` included), and unpacked into a directory that
subprocesses put first on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from hatch_build import COMPILED  # the repository root is on the path (editable install)
from loopcore.intercept import score_prompt, scorer_build
from loopcore.intercept.calibration import CALIBRATION_FILE
from loopcore.intercept.features import extract

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "intercept_calibration.jsonl"
SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

WHICH = "import loopcore.intercept as m; print(m.scorer_build())"
# Words, code and punctuation the random texts are drawn from (split on single spaces).
_PIECES = (
    "fix add retry raise after 3 tries must not maybe should the a of in `x_y` foo.py:12"
    " --flag Error: ValueError() http://x.org ? . , ; : \n ``` ~~~ >>>    "
    " ( ) [ ] { } # 10ms 50% v2.1.0 é ü 中 \t _No response_ steps to reproduce"
)
# Run with the wheel first on the path; the tests package comes from the editable install.
PROBE = (
    "import json, sys; from tests.test_wheel import read_all; "
    "print(json.dumps(read_all(json.load(sys.stdin)), sort_keys=True))"
)


def _read(text: str) -> list[object]:
    """What the scorer makes of ``text``: every field of its results, JSON-ready."""
    features, evidence = extract(text)
    result = score_prompt(text)
    half = extract(text[: len(text) // 2], text)[0]
    return [
        features,
        repr(evidence),
        result.score,
        result.grade,
        dict(result.dimensions),
        list(result.issues),
        [[q.text, q.blank, q.value] for q in result.questions],
        result.route,
        repr(result.suggested_config),
        half,
    ]


def read_all(texts: list[str]) -> dict[str, object]:
    """Which scorer ran, and what it made of each text (``PROBE`` prints this)."""
    return {"build": scorer_build(), "results": [_read(t) for t in texts]}


def _build_wheel(dest: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``pip wheel`` of the repository into ``dest`` (verbose: the hook's messages show)."""
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v"]
    return subprocess.run(
        [*pip, "-w", str(dest), str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
        check=False,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path, Path]:
    """The wheel's file names, its unpacked directory, and the wheel."""
    pytest.importorskip("hatchling")
    pytest.importorskip("mypyc")
    if not IN_CI and shutil.which("cc") is None:
        pytest.skip("no C compiler here to compile the scorer with (CI has one)")
    tmp = tmp_path_factory.mktemp("wheel")
    # A failed compile is an error here, not a pure-Python wheel with a warning.
    build = _build_wheel(tmp / "dist", {**os.environ, "LOOPCORE_COMPILE": "1"})
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("loopcore-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(tmp / "site")
    return names, tmp / "site", wheel


def _python(site: Path, *args: str, stdin: str = "", timeout: float = 120) -> str:
    """Run this interpreter with the unpacked wheel first on its path; its stdout."""
    run = subprocess.run(
        [sys.executable, "-P", *args],  # -P: the working directory must not shadow the wheel
        input=stdin,
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    return run.stdout


def _which(site: Path) -> str:
    """Which scorer the unpacked wheel in ``site`` runs: "mypyc" or "python"."""
    return _python(site, "-c", WHICH).strip()


def test_wheel_ships_calibration_and_not_the_data(built: tuple[list[str], Path, Path]) -> None:
    """The wheel holds calibration.json, the scorer loads it from there, and no labelled data."""
    names, site, _ = built
    assert "loopcore/intercept/calibration.json" in names
    assert not [n for n in names if n.endswith(".jsonl")]
    probe = (
        "import loopcore.intercept as m; from loopcore.intercept import load_calibration; "
        "print(m.__file__); print(load_calibration().source)"
    )
    where, source = _python(site, "-c", probe).split()
    assert where.startswith(str(site))
    assert source == CALIBRATION_FILE


def test_wheel_compiles_the_scorer_and_keeps_its_sources(
    built: tuple[list[str], Path, Path],
) -> None:
    """An extension per module the hook lists, their shared runtime, the sources; a platform tag."""
    names, site, wheel = built
    assert "loopcore/intercept/features.py" in COMPILED
    for path in COMPILED:
        assert path.replace(".py", SUFFIX) in names
        assert path in names
    assert len([n for n in names if n.endswith(f"__mypyc{SUFFIX}") and "/" not in n]) == 1
    assert not wheel.name.endswith("-py3-none-any.whl")
    assert _which(site) == "mypyc"


def _texts() -> list[str]:
    """Labelled issues when shared/ is beside us; crafted edge cases; seeded random text."""
    rows = DATA.read_text(encoding="utf-8").splitlines() if DATA.exists() else []
    texts = [json.loads(row)["problem_statement"] for row in rows]
    texts += [
        "",
        "   ",
        "```\n```",
        "json json json must should format list table code python",
        "add retry with backoff to download(); raise after 3 tries",
        "Fix `foo_bar` in a/b.py:12 -v --flag v1.2.3 #12 GET /x camelCase XMLParser ÉcoleX",
        "a" * 4000 + "?x",
        "why? " * 500,
        "```py\n" * 300,
        "Maybe as discussed see https://example.org/x and http://github.com/a/b/blob/m/c.py",
        ">>> f(1)\n    x = [1, 2]\n\tdef g(): pass\n# Heading\n## Empty\n_No response_",
    ]
    rng = random.Random(20261122)
    pieces = _PIECES.split(" ")
    for _ in range(300):
        texts.append(" ".join(rng.choice(pieces) for _ in range(rng.randint(0, 400))))
    return texts


def test_compiled_scorer_scores_as_the_sources_do(built: tuple[list[str], Path, Path]) -> None:
    """Features, evidence, score, dimensions, issues, questions, route, config: all identical."""
    _, site, _ = built
    texts = _texts()
    out = json.loads(_python(site, "-c", PROBE, stdin=json.dumps(texts), timeout=300))
    assert out["build"] == "mypyc"
    here = json.loads(json.dumps(read_all(texts), sort_keys=True))
    assert here["build"] == "python"
    assert len(out["results"]) == len(here["results"]) == len(texts)
    for text, theirs, ours in zip(texts, out["results"], here["results"], strict=True):
        assert theirs == ours, text[:200]


def test_scorer_unit_tests_pass_on_the_compiled_build(built: tuple[list[str], Path, Path]) -> None:
    """The scorer's own tests, run again with the wheel's compiled modules imported."""
    _, site, _ = built
    assert _which(site) == "mypyc"
    # importlib mode: pytest puts no test directory on sys.path ahead of the wheel.
    out = _python(
        site,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        str(ROOT / "tests" / "loopcore" / "intercept"),
        timeout=400,
    )
    assert re.search(r"\b\d+ passed\b", out.strip().splitlines()[-1]), out[-2000:]


@pytest.mark.anyio
async def test_server_from_the_wheel_scores_with_the_compiled_scorer(
    built: tuple[list[str], Path, Path], tmp_path: Path
) -> None:
    """``loopcore serve`` from the wheel, over stdio: intercept answers as the sources score."""
    _, site, _ = built
    # The server runs as this does: this interpreter, -P, the wheel first on PYTHONPATH.
    assert _which(site) == "mypyc"
    prompt = "add retry with backoff to download(); raise after 3 tries"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-P", "-m", "server.cli", "serve"],
        env={
            "PYTHONPATH": str(site),
            "LOOPCORE_DB": str(tmp_path / "lc.db"),
            "HOME": str(tmp_path),
            "PATH": os.environ.get("PATH", ""),
        },
        cwd=tmp_path,
    )
    async with Client(params, mode="legacy") as client:
        result = await client.call_tool("intercept", {"prompt": prompt})
    assert not result.is_error, result.content
    out = result.structured_content or {}
    assert out["score"] == pytest.approx(score_prompt(prompt).score, abs=1e-9)
    assert out["grade"] == score_prompt(prompt).grade


@pytest.fixture
def anyio_backend() -> str:
    """Run the anyio-marked tests on asyncio."""
    return "asyncio"


def test_failed_compile_builds_a_pure_python_wheel(tmp_path: Path) -> None:
    """No working C compiler: a warning, then a pure-Python wheel that scores as the sources."""
    pytest.importorskip("hatchling")
    pytest.importorskip("mypyc")
    env = {k: v for k, v in os.environ.items() if k != "LOOPCORE_COMPILE"}
    build = _build_wheel(tmp_path / "dist", {**env, "CC": "/bin/false"})  # setuptools uses $CC
    assert build.returncode == 0, build.stderr[-3000:]
    assert "the mypyc compile failed, so this wheel is pure Python" in build.stdout + build.stderr
    (wheel,) = (tmp_path / "dist").glob("loopcore-*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert not [n for n in zf.namelist() if n.endswith(SUFFIX)]
        zf.extractall(tmp_path / "site")
    assert _which(tmp_path / "site") == "python"
