"""The ``command`` evaluator: run an allowlisted program in the project and score its tests.

Security model (see ``build_command``): the program must be named by the
server's allowlist (``FactoryOptions.allow_commands``, from
``LOOPCORE_ALLOW_COMMANDS``; empty turns the feature off); it runs from an
argument list, never through a shell; its working directory and every
argument that is or names a path (``--opt=PATH``, ``-oPATH``, lists, ``@file``
and the words in it) stay inside the project root; it gets a minimal
environment plus only the variables the spec names (never ``LOOPCORE_*``); at
the time limit and at the end of a run every process it started is killed,
``setsid`` and daemonised ones included (``_reaper``); its output is capped.
Its run time does not count against the evaluation's budget (``_budget``).
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopcore.errors import ApprovalRequired, InvalidInput
from loopcore.evaluators import _budget
from loopcore.evaluators._process import ProcessResult, run_process
from loopcore.evaluators.base import EvalContext, Evaluation
from loopcore.evaluators.factory import held_commands  # re-exported: it lives with the spec walks
from loopcore.evaluators.options import FactoryOptions
from loopcore.evaluators.specs import CommandSpec
from loopcore.evaluators.testrun import parse_pytest, score_run

__all__ = ["BASE_ENV", "CommandEvaluator", "build_command", "held_commands"]

# What a program needs to start and find its tools on any OS; nothing secret.
BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT",
            "COMSPEC", "PATHEXT", "USERPROFILE")  # fmt: skip
_SETTING = "LOOPCORE_ALLOW_COMMANDS"
_RESPONSE_BYTES = 64 * 1024
_RESPONSE_DEPTH = 3  # a response file may name another; a loop of them stops here


def _is_path(program: str) -> bool:
    return os.sep in program or (os.altsep is not None and os.altsep in program)


def _allowed(program: str, allow: frozenset[str]) -> bool:
    """A bare name must be listed; a path must be listed exactly (or resolve to a listed path).

    Matching a path by its basename would let ``/tmp/x/pytest`` pass as ``pytest``.
    """
    if not _is_path(program):
        return program in allow
    if program in allow:
        return True
    if not os.path.isabs(program):
        return False
    target = Path(program).resolve()
    return any(os.path.isabs(a) and Path(a).resolve() == target for a in allow)


def _inside(path: Path | None, root: Path) -> bool:
    return path is not None and (path == root or path.is_relative_to(root))


def _resolved(path: Path) -> Path | None:
    """``path`` with symlinks resolved; None when that fails (a loop, a name too long)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _workdir(root: Path, cwd: str | None) -> Path:
    if cwd is None:
        return root
    target = _resolved(root / cwd)  # an absolute cwd replaces root here, then must be inside it
    if target is None or not _inside(target, root):
        raise InvalidInput(f"must stay inside the project root {str(root)!r}", field="cwd")
    if not target.is_dir():
        raise InvalidInput("must be an existing directory inside the project root", field="cwd")
    return target


def _path_forms(arg: str) -> list[str]:
    """Every text inside ``arg`` that a program may read as a path.

    The argument itself; what follows an ``=`` (``--opt=PATH``, ``-o=PATH``, and
    pytest's ``-o key=PATH``); each item of a comma list (``--cov=src,/etc``); the
    rest of a glued short option (``-c/outside.ini``, as pytest and getopt read
    ``-cFILE``); the file of an ``@file`` response file (pytest, javac and gcc read
    arguments from it). Applied again to each piece found, so ``-ocache_dir=/x``
    and ``--opt=@/x`` are read to the end.
    """
    forms: list[str] = []
    queue = [arg]
    while queue:
        text = queue.pop()
        if not text or text in forms:
            continue
        forms.append(text)
        if "=" in text:
            queue.append(text.split("=", 1)[1])
        if "," in text:
            queue.extend(text.split(","))
        if len(text) > 2 and text[0] == "-" and text[1] != "-":
            queue.append(text[2:])
        if text.startswith("@"):
            queue.append(text[1:])
    return forms


def _escapes(root: Path, workdir: Path, text: str, option: bool) -> bool:
    """Whether ``text``, read as a path from ``workdir``, may lead outside ``root``."""
    path = Path(text)
    suspicious = path.is_absolute() or ".." in path.parts or text.startswith("~")
    # A path that exists is resolved too: a symlink inside the project may point out.
    checked = suspicious or (not option and _exists(workdir / path))
    return checked and not _inside(_resolved(workdir / path), root)


def _check_argument(root: Path, workdir: Path, index: int, arg: str, depth: int = 0) -> None:
    """Reject an argument that is, or holds, a path leaving the root (see ``_path_forms``).

    The arguments of a response file inside the project are checked the same way
    when it is read here (its contents can change before the run: the project's
    own files are trusted as code anyway, as the tests they hold are run).
    """
    for i, text in enumerate(_path_forms(arg)):
        option = i == 0 and text.startswith("-")  # the argument itself, an option: not resolved
        if _escapes(root, workdir, text, option):
            raise InvalidInput(
                f"argument {arg[:100]!r} is a path outside the project root {str(root)!r}, "
                "or names one (as --opt=PATH, -oPATH, an item of a list or an @file)",
                field=f"run.{index}",
            )
        response = _resolved(workdir / text[1:]) if text.startswith("@") else None
        if response is not None and _inside(response, root) and depth < _RESPONSE_DEPTH:
            for inner in _response_arguments(response):
                _check_argument(root, workdir, index, inner, depth + 1)


def _response_arguments(path: Path) -> list[str]:
    """The arguments written in a response file (shell-like words), or none if unreadable."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_RESPONSE_BYTES).decode("utf-8", "replace")
        return shlex.split(data, comments=True)
    except (OSError, ValueError):
        return []


def _environment(base: Mapping[str, str] | None, names: list[str]) -> dict[str, str]:
    # No bytecode caches: pyc files are validated by whole-second mtime and size, so a
    # same-size edit within a second of the last run would otherwise test stale code.
    fixed = {"PYTHONDONTWRITEBYTECODE": "1"}
    if base is None:
        return {"PATH": os.defpath, **fixed}
    # loopcore's own settings (LOOPCORE_TOKEN, LOOPCORE_PROVIDER_API_KEY, ...) never pass,
    # even when named and even when a caller hands over the unfiltered environment.
    wanted = [k for k in (*BASE_ENV, *names) if not k.upper().startswith("LOOPCORE_")]
    return {**{k: base[k] for k in wanted if k in base}, **fixed}


def build_command(spec: CommandSpec, options: FactoryOptions) -> CommandEvaluator:
    """Check a command spec against the server's options and build its evaluator.

    Raises:
        InvalidInput: the program is not allowlisted (or the allowlist is empty),
            no project root is set, the working directory or an argument leaves
            the root, or the time limit exceeds the server's.
    """
    program = spec.run[0]
    if not _allowed(program, options.allow_commands):
        state = (
            "is empty, so commands are off" if not options.allow_commands else "does not name it"
        )
        raise InvalidInput(
            f"program {program!r} is not allowed: the allowlist setting {_SETTING} {state}; "
            f"a person must add {os.path.basename(program)!r} (or its exact path) to it",
            field="run.0",
        )
    if options.project_root is None or not options.project_root.is_dir():
        raise InvalidInput("command specs need the server's project root (an existing directory)")
    root = options.project_root.resolve()
    workdir = _workdir(root, spec.cwd)
    for index, arg in enumerate(spec.run[1:], start=1):
        _check_argument(root, workdir, index, arg)
    limit = options.command_timeout_s
    if spec.timeout_s is not None and spec.timeout_s > limit:
        raise InvalidInput(
            f"must be <= {limit:g} (the server's command time limit)", field="timeout_s"
        )
    return CommandEvaluator(
        argv=tuple(spec.run),
        root=root,
        workdir=workdir,
        timeout_s=spec.timeout_s or limit,
        max_output_bytes=options.max_output_bytes,
        env=_environment(options.environ, spec.env),
        held=spec.approval and not options.commands_approved,
    )


@dataclass(frozen=True, kw_only=True)
class CommandEvaluator:
    """Runs the command and scores the tests it reports (the ``output`` text is not used).

    Score, verdict and regression tracking: see ``testrun.score_run``. A program
    that is missing or cannot start, or a run past the time limit, scores 0.0
    with a deficiency ("... timed out after 2 s"). Details: ``exit_code``,
    ``failing`` (sorted ids), ``passed``, ``failed``, ``errors``, ``skipped``,
    ``regression``, ``newly_failing``, ``timed_out``, ``output_tail``.
    """

    argv: tuple[str, ...]
    root: Path
    workdir: Path
    timeout_s: float
    max_output_bytes: int = 1_000_000
    env: Mapping[str, str] = field(default_factory=dict)
    held: bool = False  # the spec asks for approval and none was given: refuse to run

    @property
    def name(self) -> str:
        """The spec type."""
        return "command"

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        """Run the command and score the result.

        Raises:
            ApprovalRequired: the spec asks for a person's approval and has none.
        """
        shown = shlex.join(self.argv)[:200]
        if self.held:
            raise ApprovalRequired(shown)
        program = self._program()
        if program is None:
            return _failure(f"program {self.argv[0]!r} was not found on PATH")
        if not _inside(_resolved(self.workdir), self.root):
            return _failure(f"the working directory now leaves the project root: {self.workdir}")
        with _budget.paused():  # the command's own time limit applies, not the budget
            result = run_process(
                [program, *self.argv[1:]],
                cwd=self.workdir,
                env=self.env,
                timeout_s=self.timeout_s,
                max_output_bytes=self.max_output_bytes,
            )
        if result.error is not None:
            return _failure(result.error)
        if result.timed_out or result.exit_code is None:
            return _failure(f"`{shown}` timed out after {self.timeout_s:g} s", result, True)
        return self._scored(result, result.exit_code, shown, context)

    def _program(self) -> str | None:
        first = self.argv[0]
        if _is_path(first):
            path = Path(first) if os.path.isabs(first) else self.workdir / first
            return str(path) if path.is_file() and os.access(path, os.X_OK) else None
        return shutil.which(first, path=self.env.get("PATH", os.defpath))

    def _scored(
        self, result: ProcessResult, code: int, shown: str, context: EvalContext | None
    ) -> Evaluation:
        report = parse_pytest(result.output)
        scored = score_run(
            code,
            report,
            baseline=context.baseline if context else None,
            previous=context.previous if context else None,
        )
        deficiencies = list(scored.deficiencies)
        if code != 0 and not report.failing:
            tail = " | ".join(result.output.strip().splitlines()[-5:])[-400:]
            deficiencies.insert(0, f"`{shown}` exited with code {code}; last output: {tail}")
        details = {**scored.details, "timed_out": False, "output_tail": _tail(result.output)}
        return Evaluation.of(scored.score, scored.passed, deficiencies, details=details)


def _tail(text: str, limit: int = 2000) -> str:
    return text[-limit:]


def _failure(
    message: str, result: ProcessResult | None = None, timed_out: bool = False
) -> Evaluation:
    # "failing" is None, not []: a run without a verdict must not become the
    # reference that makes every later failure look new.
    details: dict[str, Any] = {
        "exit_code": None,
        "failing": None,
        "passed": 0,
        "failed": 0,
        "errors": 0,
        "skipped": 0,
        "regression": False,
        "newly_failing": [],
        "timed_out": timed_out,
        "output_tail": _tail(result.output) if result else "",
    }
    return Evaluation.of(0.0, False, [message], details=details)
