"""Approval before done: tokens in the journal, granted, declined, expired and void."""

from __future__ import annotations

from typing import Any

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import Conflict, InvalidInput, NotFound
from loopcore.plans.service import Answer, PlanService
from loopcore.store.protocol import Store

SPEC = {"type": "regex", "required": ["tests pass"]}
TASKS: list[dict[str, Any]] = [
    {"id": "ship", "title": "Ship it", "acceptance": SPEC, "approval": "before_done"},
    {"id": "docs", "title": "Docs", "acceptance": SPEC},
]


def _plan(store: Store, clock: FixedClock) -> tuple[PlanService, str]:
    plans = PlanService(store, clock, approval_ttl_s=60.0)
    return plans, plans.create("p", "release", TASKS).plan.id


def test_a_passing_record_waits_for_approval_with_a_token(store: Store) -> None:
    """The output passes, but the task stays in progress and a token is issued."""
    clock = FixedClock(1000.0)
    plans, pid = _plan(store, clock)
    plans.next_task(pid, agent="a1")
    res = plans.record(pid, "ship", output="tests pass", agent="a1")
    assert (res.task.status, res.awaiting_approval) == ("in_progress", True)
    assert res.approval is not None and res.approval.token.startswith(f"{pid}~")
    assert res.approval.expires_at == 1060.0
    lines = plans.explain(pid).lines
    assert any("approval asked for before done" in line for line in lines)
    assert all(res.approval.token not in line for line in lines)


def test_a_person_approves_with_the_token_and_the_task_is_done(store: Store) -> None:
    """decide_approval(approve=True): done, journaled with who and why."""
    clock = FixedClock(1000.0)
    plans, pid = _plan(store, clock)
    res = plans.record(pid, "ship", output="tests pass")
    assert res.approval is not None
    outcome = plans.decide_approval(
        res.approval.token, approve=True, reason="looks right", by="ann"
    )
    assert (outcome.approved, outcome.task.status) == (True, "done")
    assert plans.task(pid, "ship").status == "done"
    assert any(
        "approved by ann with a token: looks right" in line for line in plans.explain(pid).lines
    )
    with pytest.raises(Conflict, match="already answered"):
        plans.decide_approval(res.approval.token, approve=True)


def test_a_decline_leaves_the_task_and_says_why(store: Store) -> None:
    """A declined token: the task keeps its status; the reason is in the journal."""
    clock = FixedClock(1000.0)
    plans, pid = _plan(store, clock)
    plans.next_task(pid, agent="a1")
    res = plans.record(pid, "ship", output="tests pass", agent="a1")
    assert res.approval is not None
    outcome = plans.decide_approval(res.approval.token, approve=False, reason="not on Friday")
    assert (outcome.approved, plans.task(pid, "ship").status) == (False, "in_progress")
    assert any("declined by person with a token: not on Friday" in line
               for line in plans.explain(pid).lines)  # fmt: skip


def test_an_expired_token_is_refused_and_journaled(store: Store) -> None:
    """After the time to live the token is refused, and the refusal is in the journal."""
    clock = FixedClock(1000.0)
    plans, pid = _plan(store, clock)
    res = plans.record(pid, "ship", output="tests pass")
    assert res.approval is not None
    clock.advance(61.0)
    with pytest.raises(Conflict, match="expired"):
        plans.decide_approval(res.approval.token, approve=True)
    assert plans.task(pid, "ship").status == "pending"
    assert any("refused as expired" in line for line in plans.explain(pid).lines)


def test_a_token_is_void_once_the_task_changed(store: Store) -> None:
    """Recording the task again after the token was issued voids it."""
    clock = FixedClock(1000.0)
    plans, pid = _plan(store, clock)
    first = plans.record(pid, "ship", output="tests pass")
    clock.advance(1.0)
    plans.record(pid, "ship", output="tests pass again")
    assert first.approval is not None
    with pytest.raises(Conflict, match="void"):
        plans.decide_approval(first.approval.token, approve=True)
    assert any("refused as void" in line for line in plans.explain(pid).lines)


def test_an_answer_through_the_host_needs_no_token(store: Store) -> None:
    """Approved at record time: done at once; declined: stays, no token; cancelled: a token."""
    clock = FixedClock(1000.0)
    plans, pid = _plan(store, clock)
    yes = plans.record(pid, "ship", output="tests pass", approval=Answer(approved=True, by="bob"))
    assert (yes.task.status, yes.awaiting_approval, yes.approval) == ("done", False, None)
    plans2, pid2 = _plan(store, clock)
    no = plans2.record(
        pid2, "ship", output="tests pass", approval=Answer(approved=False, reason="wait")
    )
    assert (no.task.status, no.awaiting_approval, no.approval) == ("pending", True, None)
    cancelled = plans2.record(
        pid2,
        "ship",
        output="tests pass",
        approval=Answer(approved=False, reason="cancelled", final=False),
    )
    assert cancelled.approval is not None
    text = "\n".join(plans2.explain(pid2).lines)
    assert "declined by user through the host: wait" in text


def test_tasks_without_approval_and_failing_outputs_ask_nothing(store: Store) -> None:
    """An ordinary task is done at once; a failing output fails with no approval asked."""
    clock = FixedClock(1000.0)
    plans, pid = _plan(store, clock)
    assert plans.record(pid, "docs", output="tests pass").task.status == "done"
    failing = plans.record(pid, "ship", output="nothing yet")
    assert (failing.task.status, failing.awaiting_approval, failing.approval) == (
        "failed",
        False,
        None,
    )


def test_bad_tokens_and_rules_are_refused(store: Store) -> None:
    """A malformed token, an unknown one, and an unknown approval rule are clear errors."""
    plans, pid = _plan(store, FixedClock(1000.0))
    with pytest.raises(InvalidInput):
        plans.decide_approval("nonsense", approve=True)
    with pytest.raises(NotFound):
        plans.decide_approval(f"{pid}~{'x' * 24}", approve=True)
    with pytest.raises(InvalidInput) as caught:
        plans.create("p", "g", [{"id": "t", "title": "t", "approval": "always"}])
    assert caught.value.field == "tasks[0].approval"
