"""``loopcore approve TOKEN [--decline] [--reason R]``: a person answers an approval token.

A task created with ``approval="before_done"`` waits for this when the agent's host
could not ask the person (no elicitation): ``plan_record`` answered
``awaiting_approval`` with the token. Approving marks the task done; declining leaves
it as it was, with the reason in the plan's journal (``loopcore plans show``).
"""

from __future__ import annotations

import argparse
import getpass
from typing import TextIO

from loopcore.errors import LoopcoreError
from loopcore.plans.service import PlanService
from loopcore.store import open_store
from server.settings import Settings

__all__ = ["add_approve_parser", "run_approve"]


def add_approve_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """``loopcore approve``."""
    p = subparsers.add_parser(
        "approve", help="approve (or --decline) a task waiting for a person's approval"
    )
    p.add_argument("token", help="the token plan_record answered in awaiting_approval")
    p.add_argument("--decline", action="store_true", help="decline instead of approving")
    p.add_argument("--reason", default="", help="why (kept in the plan's journal)")
    p.add_argument("--by", help="who answers (default: your user name)")
    return p


def run_approve(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """Answer the token; 0 when answered, 1 when refused (expired, void, unknown)."""
    by = args.by or _user()
    store, _ = open_store(settings.db)
    try:
        outcome = PlanService(store).decide_approval(
            args.token, approve=not args.decline, reason=args.reason, by=by
        )
    except LoopcoreError as exc:
        err.write(f"loopcore approve: {exc}\n")
        return 1
    finally:
        store.close()
    verb = "approved: task is done" if outcome.approved else "declined: task stays as it was"
    out.write(f"{verb} ({outcome.plan_id} / {outcome.task_id}); see `loopcore plans show "
              f"{outcome.plan_id}`\n")  # fmt: skip
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "person"
