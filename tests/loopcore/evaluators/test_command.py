"""The command evaluator, run for real against a throwaway project in a temporary directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from loopcore.errors import InvalidInput
from loopcore.evaluators import build_evaluator
from loopcore.evaluators.base import EvalContext, Evaluation, Evaluator
from loopcore.evaluators.factory import FactoryOptions

pytestmark = pytest.mark.slow

PY = sys.executable
PYTEST = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
# Plugins of this venv (timeout, asyncio, hypothesis) only slow the child run down.
ENV = {
    **os.environ,
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    "PROJECT_SECRET_T": "s3cret",
    "LOOPCORE_TOKEN": "server-token-s3cret",
    "LOOPCORE_PROVIDER_API_KEY": "provider-key-s3cret",
}

CALC_OK = "def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    return a * b\n"
TESTS = """\
from calc import add, mul

def test_add():
    assert add(1, 2) == 3

def test_mul():
    assert mul(2, 3) == 6
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tiny package with two tests that pass."""
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (root / "calc.py").write_text(CALC_OK)
    (root / "tests" / "test_calc.py").write_text(TESTS)
    return root


def _options(root: Path, **kw: Any) -> FactoryOptions:
    allow = kw.pop("allow", frozenset({PY}))
    return FactoryOptions(
        allow_commands=allow, project_root=root, environ=ENV, command_timeout_s=60.0, **kw
    )


def _pytest(root: Path, *extra: str, **spec: Any) -> Evaluator:
    full = {"type": "command", "run": [*PYTEST, *extra], "env": ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]}
    return build_evaluator({**full, **spec}, _options(root))


def _failing(result: Evaluation) -> list[str]:
    return list(result.details["failing"])


def test_all_tests_pass(project: Path) -> None:
    """A green run scores 1.0, passes, and reports the counts."""
    result = _pytest(project).evaluate("")
    assert (result.score, result.passed) == (1.0, True)
    details = {k: result.details[k] for k in ("exit_code", "failing", "passed", "failed", "errors")}
    assert details == {"exit_code": 0, "failing": [], "passed": 2, "failed": 0, "errors": 0}


def test_some_tests_fail(project: Path) -> None:
    """A broken function fails one test: named, half the tests pass, score 0.5."""
    (project / "calc.py").write_text(CALC_OK.replace("a + b", "a - b"))
    result = _pytest(project).evaluate("")
    assert result.passed is False
    assert result.score == 0.5
    assert _failing(result) == ["tests/test_calc.py::test_add"]
    assert result.deficiencies[0].startswith("failing: tests/test_calc.py::test_add - assert")


def test_new_failure_after_a_fix_is_a_regression(project: Path) -> None:
    """Baseline: add fails. Then add is fixed but mul breaks: regression, score 0."""
    (project / "calc.py").write_text(CALC_OK.replace("a + b", "a - b"))
    ev = _pytest(project)
    baseline = ev.evaluate("")
    (project / "calc.py").write_text(CALC_OK.replace("a * b", "a ** b"))
    result = ev.evaluate("", EvalContext(baseline=baseline, previous=baseline))
    assert result.details["regression"] is True
    assert result.details["newly_failing"] == ["tests/test_calc.py::test_mul"]
    assert result.score == 0.0


def test_fixing_the_baseline_failure_scores_one(project: Path) -> None:
    """Baseline: add fails. Then it is fixed (a same-size edit) and nothing breaks: 1.0."""
    (project / "calc.py").write_text(CALC_OK.replace("a + b", "a - b"))
    ev = _pytest(project)
    baseline = ev.evaluate("")
    (project / "calc.py").write_text(CALC_OK)
    result = ev.evaluate("", EvalContext(baseline=baseline, previous=baseline))
    assert (result.score, result.passed, result.details["regression"]) == (1.0, True, False)


def test_a_hang_is_killed_at_the_time_limit(project: Path) -> None:
    """A test that sleeps past timeout_s 2 is a 'timed out after 2 s' deficiency."""
    (project / "tests" / "test_slow.py").write_text(
        "import time\n\ndef test_sleeps():\n    time.sleep(60)\n"
    )
    result = _pytest(project, timeout_s=2).evaluate("")
    assert (result.score, result.passed) == (0.0, False)
    assert result.deficiencies[0].endswith("timed out after 2 s")
    assert result.details["timed_out"] is True
    assert result.details["failing"] is None


def test_program_not_on_the_allowlist_is_refused(project: Path) -> None:
    """A program the allowlist does not name is an InvalidInput at run.0."""
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "command", "run": ["bash", "-c", "id"]}, _options(project))
    assert caught.value.field == "run.0"
    assert "LOOPCORE_ALLOW_COMMANDS does not name it" in str(caught.value)


def test_feature_is_off_when_the_allowlist_is_empty(project: Path) -> None:
    """With an empty allowlist no command builds, whatever the program."""
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "command", "run": PYTEST}, _options(project, allow=frozenset()))
    assert "LOOPCORE_ALLOW_COMMANDS is empty, so commands are off" in str(caught.value)


def test_a_path_is_not_allowed_by_its_basename(project: Path) -> None:
    """Allowing 'pytest' does not allow <root>/pytest: paths must be listed exactly."""
    fake = project / "pytest"
    fake.write_text("#!/bin/sh\necho pwned\n")
    fake.chmod(0o755)
    opts = _options(project, allow=frozenset({"pytest"}))
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "command", "run": [str(fake)]}, opts)
    assert caught.value.field == "run.0"


@pytest.mark.parametrize("arg", ["../outside.py", "/etc/passwd", "--rootdir=/", "tests/../../x"])
def test_arguments_escaping_the_root_are_refused(project: Path, arg: str) -> None:
    """A path argument (or --opt=path) that leaves the project root names run.N."""
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "command", "run": [*PYTEST, arg]}, _options(project))
    assert caught.value.field == f"run.{len(PYTEST)}"
    assert "outside the project root" in str(caught.value)


@pytest.mark.parametrize(
    "form",
    [
        "-c{out}/outside.ini",  # a glued short option
        "--override-ini=cache_dir={out}/cache",  # --opt=key=PATH
        "-ocache_dir={out}/cache",  # glued, then key=PATH
        "--rootdir=src,{out}",  # a comma list
        "@{out}/args",  # a response file outside
        "--opt=@{out}/args",
    ],
)
def test_every_path_form_escaping_the_root_is_refused(
    project: Path, tmp_path: Path, form: str
) -> None:
    """Glued options, --opt=PATH, lists and @file name paths too: outside the root, refused."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "outside.ini").write_text("[pytest]\ncache_dir = /tmp/loopcore-escape\n")
    (outside / "args").write_text("-q\n")
    arg = form.format(out=outside)
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "command", "run": [*PYTEST, arg]}, _options(project))
    assert caught.value.field == f"run.{len(PYTEST)}"
    assert "outside the project root" in str(caught.value)


def test_a_response_file_inside_naming_a_path_outside_is_refused(
    project: Path, tmp_path: Path
) -> None:
    """The arguments written in a response file inside the project are checked too."""
    (project / "args.txt").write_text(f"-q\n--rootdir={tmp_path}\n")
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "command", "run": [*PYTEST, "@args.txt"]}, _options(project))
    assert f"--rootdir={tmp_path}" in str(caught.value)


def test_path_forms_inside_the_root_run(project: Path) -> None:
    """A glued -cFILE and an @file inside the project are accepted, and pytest runs with them."""
    (project / "args.txt").write_text("tests\n")
    result = _pytest(project, "-cpytest.ini", "@args.txt").evaluate("")
    assert (result.passed, result.details["passed"]) == (True, 2)


def test_naming_a_loopcore_variable_is_refused(project: Path) -> None:
    """A spec that names LOOPCORE_TOKEN in env is an InvalidInput at env."""
    spec = {
        "type": "command",
        "run": PYTEST,
        "env": ["PYTEST_DISABLE_PLUGIN_AUTOLOAD", "LOOPCORE_TOKEN"],
    }
    with pytest.raises(InvalidInput) as caught:
        build_evaluator(spec, _options(project))
    assert caught.value.field == "env"
    assert "never passed to commands" in str(caught.value)


def test_loopcore_secrets_never_reach_the_command(project: Path) -> None:
    """With LOOPCORE_TOKEN and the provider key in the server's environment, the test run
    sees no LOOPCORE_* variable, and its parent's /proc environ holds no secret either."""
    (project / "tests" / "test_env.py").write_text(
        "import os\n\ndef test_no_secret():\n"
        "    assert not [k for k in os.environ if k.startswith('LOOPCORE_')]\n"
        "    parent = open(f'/proc/{os.getppid()}/environ', 'rb').read()\n"
        "    assert b's3cret' not in parent\n"
    )
    result = _pytest(project).evaluate("")
    assert (result.passed, result.details["passed"]) == (True, 3)


def test_symlink_argument_pointing_outside_is_refused(project: Path, tmp_path: Path) -> None:
    """An argument that is a symlink inside the project to a place outside is refused."""
    (project / "escape").symlink_to(tmp_path)
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "command", "run": [*PYTEST, "escape"]}, _options(project))
    assert caught.value.field == f"run.{len(PYTEST)}"


@pytest.mark.parametrize("cwd", ["..", "/tmp", "tests/../.."])
def test_cwd_escaping_the_root_is_refused(project: Path, cwd: str) -> None:
    """A working directory outside the root is an InvalidInput at cwd."""
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "command", "run": PYTEST, "cwd": cwd}, _options(project))
    assert caught.value.field == "cwd"


def test_cwd_inside_the_root_is_used(project: Path) -> None:
    """cwd 'tests' runs there (pytest finds the ini above it and the tests pass)."""
    result = _pytest(project, cwd="tests").evaluate("")
    assert (result.passed, result.details["passed"]) == (True, 2)


def test_missing_program_is_a_deficiency(project: Path) -> None:
    """An allowlisted program that is not installed is reported, not raised."""
    opts = _options(project, allow=frozenset({"loopcore-no-such-program"}))
    ev = build_evaluator({"type": "command", "run": ["loopcore-no-such-program"]}, opts)
    result = ev.evaluate("")
    assert result.score == 0.0
    assert result.deficiencies == ("program 'loopcore-no-such-program' was not found on PATH",)


def test_environment_is_passed_only_by_name(project: Path) -> None:
    """A server variable reaches the command only when the spec names it."""
    (project / "tests" / "test_env.py").write_text(
        "import os\n\ndef test_no_secret():\n    assert 'PROJECT_SECRET_T' not in os.environ\n"
    )
    assert _pytest(project).evaluate("").passed is True
    named = ["PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PROJECT_SECRET_T"]
    result = _pytest(project, env=named).evaluate("")
    assert _failing(result) == ["tests/test_env.py::test_no_secret"]


def test_time_limit_above_the_servers_is_refused(project: Path) -> None:
    """timeout_s above the server's command_timeout_s is an InvalidInput."""
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "command", "run": PYTEST, "timeout_s": 61}, _options(project))
    assert caught.value.field == "timeout_s"


def test_command_specs_need_a_project_root() -> None:
    """Without a project root, command specs do not build."""
    opts = FactoryOptions(allow_commands=frozenset({PY}))
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "command", "run": PYTEST}, opts)
    assert "project root" in str(caught.value)


def test_output_is_capped_and_the_summary_at_the_end_is_kept(project: Path) -> None:
    """5 MB of output keeps only the cap, yet the closing summary line is still read."""
    code = (
        "import sys; sys.stdout.write('x' * 5_000_000); print();"
        "print('1 failed, 2 passed in 0.1s'); sys.exit(1)"
    )
    opts = _options(project, max_output_bytes=20_000)
    result = build_evaluator({"type": "command", "run": [PY, "-c", code]}, opts).evaluate("")
    assert (result.details["failed"], result.details["passed"]) == (1, 2)
    assert result.score == pytest.approx(2 / 3)
    assert len(str(result.details["output_tail"])) <= 2000
