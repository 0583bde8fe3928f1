"""A person's approval before a task is done, kept in the plan's journal.

A task created with ``approval="before_done"`` does not become ``done`` when a
recorded output reaches the threshold: it stays where it was, and a person
approves (then it is done) or declines (it stays in progress; the reason is
journaled). The server asks the person through the host when it can
(elicitation); otherwise ``request`` issues a token that a person answers with
``loopcore approve TOKEN`` (``decide``).

Tokens live in the journal, so both stores keep them with no table of their own:

- ``approval_requested`` holds the token's SHA-256 (never the token), the task's
  fingerprint when it was issued, the expiry and how it was asked;
- ``approval_granted`` / ``approval_declined`` / ``approval_void`` /
  ``approval_expired`` close it (one of them, once).

A token names its plan (``<plan_id>~<secret>``) so it can be found from the
plan's journal alone. It is void when the task changed after it was issued (a
new record, an edit, a replan: the fingerprint differs) and refused after its
expiry. Every step is journaled and read back by ``plan_explain``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from loopcore.errors import Conflict, InvalidInput, NotFound
from loopcore.plans.model import ApprovalTicket
from loopcore.plans.operations import bump, load_plan, load_task, refresh_confidence
from loopcore.store.protocol import StoreTx
from loopcore.store.records import JournalEntry, Plan, Task

__all__ = [
    "APPROVAL_KINDS",
    "DEFAULT_APPROVAL_TTL_S",
    "ApprovalKind",
    "ApprovalOutcome",
    "consume",
    "decide",
    "find_grant",
    "fingerprint",
    "journal_answer",
    "request",
    "spec_digest",
]

DEFAULT_APPROVAL_TTL_S = 3600.0
_SCAN = 2000  # journal entries read back to find a token: far more than a plan's open asks
_CLOSING = ("approval_granted", "approval_declined", "approval_void", "approval_expired")
APPROVAL_KINDS = ("approval_requested", *_CLOSING, "approval_used")
Via = Literal["token", "elicitation", "agent"]
ApprovalKind = Literal["done", "command"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ApprovalOutcome:
    """What a decision did: the task after it, and whether it was approved."""

    plan_id: str
    task_id: str
    approved: bool
    task: Task
    reason: str


def fingerprint(task: Task) -> str:
    """What must not change between asking and answering: any write to the task moves it."""
    raw = f"{task.updated_at!r}|{task.score_seq}|{task.status}|{task.confidence!r}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _ref(plan: Plan, task: Task, now: float) -> dict[str, Any]:
    return {"at": now, "project": plan.project, "plan_id": plan.id, "task_id": task.id}


def spec_digest(spec: Mapping[str, Any] | None) -> str:
    """What a command approval is for: the exact acceptance spec."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def request(
    tx: StoreTx,
    plan: Plan,
    task: Task,
    *,
    now: float,
    ttl_s: float,
    kind: ApprovalKind = "done",
) -> ApprovalTicket:
    """Issue a token for a person to approve ``task`` (inside the caller's transaction).

    ``kind``: ``done`` (mark the task done) or ``command`` (run its acceptance command
    once; the token is for that exact spec).
    """
    token = f"{plan.id}~{secrets.token_urlsafe(18)}"
    expires = now + ttl_s
    detail = {
        "token_hash": _hash(token),
        "fingerprint": fingerprint(task),
        "expires_at": expires,
        "kind": kind,
        "spec": spec_digest(task.acceptance) if kind == "command" else None,
    }
    tx.append_journal("approval_requested", detail=detail, **_ref(plan, task, now))
    return ApprovalTicket(
        token=token, plan_id=plan.id, task_id=task.id, expires_at=expires, kind=kind
    )


def find_grant(tx: StoreTx, plan_id: str, task: Task) -> str | None:
    """The hash of a granted, unused command approval for this task as it is now, if any."""
    granted: set[str] = set()
    used: set[str] = set()
    want = spec_digest(task.acceptance)
    for entry in tx.read_journal(plan_id=plan_id, limit=_SCAN, newest_first=True):
        if entry.task_id != task.id:
            continue
        digest = str(entry.detail.get("token_hash", ""))
        if entry.kind == "approval_used":
            used.add(digest)
        elif entry.kind == "approval_granted":
            granted.add(digest)
        elif (
            entry.kind == "approval_requested"
            and digest in granted - used
            and entry.detail.get("kind") == "command"
            and entry.detail.get("spec") == want
            and entry.detail.get("fingerprint") == fingerprint(task)
        ):
            return digest
    return None


def consume(tx: StoreTx, plan: Plan, task: Task, digest: str, *, now: float) -> None:
    """Use a command approval (once), inside the write that records the run.

    Raises:
        Conflict: it was used by another record meanwhile.
    """
    if find_grant(tx, plan.id, task) != digest:
        raise Conflict("the approval to run this command was used meanwhile; ask for a new one")
    tx.append_journal("approval_used", detail={"token_hash": digest}, **_ref(plan, task, now))


def journal_answer(
    tx: StoreTx,
    plan: Plan,
    task: Task,
    *,
    now: float,
    approved: bool,
    reason: str,
    by: str,
    via: Via,
) -> None:
    """Journal an answer given without a token (through the host, at record time)."""
    kind = "approval_granted" if approved else "approval_declined"
    detail = {"by": by, "reason": reason, "via": via}
    tx.append_journal(kind, detail=detail, **_ref(plan, task, now))


def _plan_of(token: str) -> str:
    plan_id, sep, secret = token.partition("~")
    if not sep or not plan_id or len(secret) < 16 or len(token) > 200:
        raise InvalidInput("is not an approval token loopcore issued", field="token")
    return plan_id


def _find(entries: list[JournalEntry], digest: str) -> tuple[JournalEntry, JournalEntry | None]:
    """The request with this token hash and what closed it, if anything (newest first)."""
    closed: JournalEntry | None = None
    for entry in entries:
        if entry.detail.get("token_hash") != digest:
            continue
        if entry.kind == "approval_requested":
            return entry, closed
        if entry.kind in _CLOSING:
            closed = entry
    raise NotFound("no approval was asked with this token (it may belong to a deleted plan)")


def decide(
    tx: StoreTx, token: str, *, approve: bool, reason: str, by: str, via: Via, now: float
) -> ApprovalOutcome | Conflict:
    """Answer a token inside the caller's write transaction.

    Returns the outcome, or the ``Conflict`` to raise once the transaction has
    committed (an expired or void token is journaled as such, then refused).

    Raises:
        InvalidInput: not a token loopcore issued. NotFound: no such request (or
            no such plan). Conflict: already answered.
    """
    plan_id = _plan_of(token)
    plan = load_plan(tx, plan_id, lock=True)
    digest = _hash(token)
    asked, closed = _find(tx.read_journal(plan_id=plan_id, limit=_SCAN, newest_first=True), digest)
    if closed is not None:
        raise Conflict(
            f"this approval was already answered ({closed.kind.removeprefix('approval_')})"
        )
    task = load_task(tx, plan_id, str(asked.task_id))
    ref = _ref(plan, task, now)
    if now > float(asked.detail.get("expires_at", 0.0)):
        tx.append_journal("approval_expired", detail={"token_hash": digest, "by": by}, **ref)
        return Conflict("this approval token has expired; record the task again for a new one")
    if asked.detail.get("fingerprint") != fingerprint(task):
        tx.append_journal("approval_void", detail={"token_hash": digest, "by": by}, **ref)
        return Conflict(
            f"this approval token is void: task {task.id!r} changed after it was issued; "
            "record the task again for a new one"
        )
    kind = str(asked.detail.get("kind", "done"))
    detail = {"token_hash": digest, "by": by, "reason": reason, "via": via, "kind": kind}
    if not approve or kind == "command":
        tx.append_journal(
            "approval_granted" if approve else "approval_declined", detail=detail, **ref
        )
        return ApprovalOutcome(
            plan_id=plan_id, task_id=task.id, approved=approve, task=task, reason=reason
        )
    return _grant(tx, plan, task, detail, now)


def _grant(
    tx: StoreTx, plan: Plan, task: Task, detail: dict[str, Any], now: float
) -> ApprovalOutcome:
    if task.confidence is None or task.confidence < plan.threshold:
        raise Conflict(f"task {task.id!r} is below the threshold now; record it again")
    done = replace(task, status="done", claimed_by=None, lease_expires_at=None, updated_at=now)
    tx.save_task(done)
    tx.save_plan(bump(plan, now, confidence=refresh_confidence(tx, plan.id)))
    ref = _ref(plan, task, now)
    tx.append_journal("approval_granted", detail=detail, **ref)
    tx.append_journal("done", detail={"task_confidence": task.confidence}, **ref)
    return ApprovalOutcome(
        plan_id=plan.id, task_id=task.id, approved=True, task=done, reason=str(detail["reason"])
    )
