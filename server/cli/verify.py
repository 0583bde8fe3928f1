"""``loopcore verify``: score an output with an evaluator spec, or with a plan task's acceptance.

The same evaluators ``verify_output`` runs, built with the server's settings (regex time limit,
command allowlist, project root). ``--plan P --task T`` checks against the task's acceptance
spec and records nothing (checking is not recording). Exit status: 0 passed, 1 failed,
2 bad usage, an unreadable or invalid spec, or an unknown plan or task.

Only argparse is imported here at module level; the domain is imported when the verb runs,
and nothing of the MCP stack is ever imported (a hook runs this on every event).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from loopcore.evaluators.base import Evaluation
    from server.settings import Settings

__all__ = [
    "EXIT_BAD",
    "EXIT_FAILED",
    "EXIT_PASSED",
    "UsageError",
    "add_verify_parser",
    "cli_error",
    "read_text",
    "run_verify",
]

EXIT_PASSED, EXIT_FAILED, EXIT_BAD = 0, 1, 2

# Domain field names as the command line spells them.
_FLAGS = {"plan_id": "--plan", "task_id": "--task", "output": "OUTPUT", "evaluator": "--spec"}


class UsageError(ValueError):
    """The command line is wrong (exit 2)."""


def cli_error(exc: Exception) -> str:
    """A domain error worded for the command line: flags instead of field names, CLI hints."""
    from loopcore.errors import InvalidInput, PlanNotFound, TaskNotFound

    # The domain's not-found messages carry the server's tool hints: reworded here.
    if isinstance(exc, PlanNotFound):
        return f"no plan with id {exc.plan_id!r}; `loopcore plans list` lists this project's plans"
    if isinstance(exc, TaskNotFound):
        return (
            f"plan {exc.plan_id!r} has no task {exc.task_id!r}; "
            f"`loopcore plans show {exc.plan_id}` lists its tasks"
        )
    text = str(exc)
    if isinstance(exc, InvalidInput) and exc.field in _FLAGS:
        text = text.replace(f"{exc.field}:", f"{_FLAGS[exc.field]}:", 1)
    return text


def add_verify_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Any:
    """Add ``verify`` to the CLI's subcommands; returns its parser (for the common flags)."""
    p = sub.add_parser(
        "verify",
        help="score an output with an evaluator spec or a plan task's acceptance spec",
        description="Score OUTPUT_FILE (or stdin with '-') with the evaluator spec in --spec, "
        "or with the acceptance spec of --plan P --task T (nothing is recorded). "
        "Exit 0 passed, 1 failed, 2 bad usage or spec. A spec that runs a command needs "
        "no output.",
    )
    p.add_argument("output", nargs="?", metavar="OUTPUT_FILE", help="the output, '-' for stdin")
    p.add_argument("--spec", type=Path, help="a JSON file holding the evaluator spec")
    p.add_argument("--plan", help="the plan whose task's acceptance spec to run")
    p.add_argument("--task", help="the task (with --plan)")
    p.add_argument("--goal", help="what the output is for (completeness and evidence use it)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    return p


def read_text(name: str | None, stdin: TextIO, what: str) -> str:
    """The text of file ``name`` ('-': stdin; None: empty).

    Raises:
        UsageError: the file cannot be read.
    """
    if name is None:
        return ""
    if name == "-":
        return stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what} {name}: {exc}") from exc


def _load_spec(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read --spec {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"--spec {path} is not JSON: {exc}") from exc


def _with_spec(args: argparse.Namespace, settings: Settings, spec: Any, output: str) -> Evaluation:
    from loopcore.errors import InvalidInput
    from loopcore.evaluators.base import EvalContext
    from loopcore.evaluators.factory import build_evaluator, validate_spec
    from loopcore.plans.acceptance import runs_command
    from server.runtime import factory_options

    if not isinstance(spec, dict):
        raise UsageError(f"--spec {args.spec} must hold a JSON object (an evaluator spec)")
    try:
        options = factory_options(settings)
        evaluator = build_evaluator(spec, options)
        if not output.strip() and not runs_command(validate_spec(spec)):
            raise UsageError("OUTPUT_FILE is empty or missing: only a command spec needs none")
    except InvalidInput as exc:
        raise UsageError(f"--spec {args.spec}: {exc}") from exc
    return evaluator.evaluate(
        output, EvalContext(goal=args.goal, project_root=options.project_root)
    )


def _with_task(args: argparse.Namespace, settings: Settings, output: str) -> Evaluation:
    from loopcore.errors import InvalidInput, NotFound
    from loopcore.plans.check import check_task
    from loopcore.plans.service import PlanService
    from loopcore.store import open_store
    from server.runtime import factory_options

    options = factory_options(settings)
    store, _ = open_store(settings.db)
    try:
        return check_task(PlanService(store), options, args.plan, args.task, output).evaluation
    except (InvalidInput, NotFound) as exc:
        raise UsageError(cli_error(exc)) from exc
    finally:
        store.close()


def _report(ev: Evaluation, as_json: bool, out: TextIO) -> None:
    if as_json:
        from server.schemas.convert import eval_fields

        out.write(json.dumps(eval_fields(ev), indent=2) + "\n")
        return
    verdict = "passed" if ev.passed else "FAILED"
    out.write(f"{verdict}: score {ev.score:.3f}\n")
    out.writelines(f"- {d}\n" for d in ev.deficiencies)


def run_verify(
    args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    """Run ``loopcore verify``; returns 0 passed, 1 failed, 2 bad usage or spec."""
    try:
        if (args.spec is None) == (args.plan is None):
            raise UsageError("give either --spec FILE.json or --plan P --task T")
        if (args.plan is None) != (args.task is None):
            raise UsageError("--plan and --task go together")
        spec = None if args.spec is None else _load_spec(args.spec)
        output = read_text(args.output, stdin, "OUTPUT_FILE")
        if args.spec is not None:
            ev = _with_spec(args, settings, spec, output)
        else:
            ev = _with_task(args, settings, output)
    except UsageError as exc:
        err.write(f"loopcore verify: {exc}\n")
        return EXIT_BAD
    _report(ev, args.json, out)
    return EXIT_PASSED if ev.passed else EXIT_FAILED
