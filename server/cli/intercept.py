"""``loopcore intercept``: score a request the way the ``intercept`` tool does, from a shell.

The heuristic scorer only (no model judge, no questions asked of anyone, nothing stored):
the score, grade, issues and the clarifying questions, best first. ``--fail-below GRADE``
makes a script stop on a vague request (exit 1). Exit 2: bad usage or an unreadable file.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, TextIO

from server.cli.verify import UsageError, read_text

if TYPE_CHECKING:
    from loopcore.intercept import PromptScore

__all__ = ["GRADES", "add_intercept_parser", "below", "render_questions", "run_intercept"]

GRADES = ("A", "B", "C", "D", "F")
MAX_PROMPT_CHARS = 100_000


def below(grade: str, threshold: str) -> bool:
    """Whether ``grade`` is worse than ``threshold`` (F < D < C < B < A)."""
    return GRADES.index(grade) > GRADES.index(threshold)


def add_intercept_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Any:
    """Add ``intercept`` to the CLI's subcommands."""
    p = sub.add_parser(
        "intercept",
        help="score whether a request says enough to act on",
        description="Score the request in FILE (or stdin with '-', the default): grade, "
        "issues and clarifying questions. Nothing is stored.",
    )
    p.add_argument("file", nargs="?", default="-", metavar="FILE", help="'-' for stdin")
    p.add_argument("--context", help="what the request is about (a file path's text, a summary)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--fail-below", choices=GRADES, help="exit 1 when the grade is below this one")
    return p


def score_dict(score: PromptScore) -> dict[str, Any]:
    """The score as the tool's JSON fields (without what only the server knows)."""
    return {
        "score": score.score,
        "grade": score.grade,
        "dimensions": dict(score.dimensions),
        "issues": list(score.issues),
        "questions": [
            {"text": q.text, "blank": q.blank, "value": q.value} for q in score.questions
        ],
        "route": score.route,
        "suggested_config": {
            "max_iterations": score.suggested_config.max_iterations,
            "quality_threshold": score.suggested_config.quality_threshold,
        },
    }


def render_questions(score: PromptScore, limit: int = 3) -> str:
    """The blanks and the best questions, as lines a person or a model can act on."""
    lines = [f"- {issue}" for issue in score.issues]
    asks = [f"{i}. {q.text}" for i, q in enumerate(score.questions[:limit], 1)]
    return "\n".join([*lines, *(["Questions to answer first:", *asks] if asks else [])])


def run_intercept(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run ``loopcore intercept``; 0 (or 1 under ``--fail-below``), 2 on bad usage."""
    from loopcore.intercept import score_prompt

    try:
        prompt = read_text(args.file, stdin, "FILE")
        if not prompt.strip():
            raise UsageError("the request is empty")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise UsageError(
                f"the request has {len(prompt)} characters; at most {MAX_PROMPT_CHARS}"
            )
    except UsageError as exc:
        err.write(f"loopcore intercept: {exc}\n")
        return 2
    score = score_prompt(prompt, args.context)
    if args.json:
        out.write(json.dumps(score_dict(score), indent=2) + "\n")
    else:
        out.write(f"grade {score.grade} (score {score.score:.2f}), route {score.route}\n")
        body = render_questions(score, limit=len(score.questions))
        out.write(body + "\n" if body else "")
    return 1 if args.fail_below and below(score.grade, args.fail_below) else 0
