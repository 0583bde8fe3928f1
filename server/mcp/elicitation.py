"""intercept's ask-the-user flow: the top clarifying questions as one elicitation form.

The resolver form (``Resolve`` + ``Elicit``) is the one that works in both protocol
eras: on the legacy handshake the SDK sends ``elicitation/create`` mid-call, on
2026-07-28 it returns an input-required round and the client retries with the
answers. The resolver reads ``prompt``, ``context`` and ``ask_user`` from the tool's
own (validated) arguments by name, and asks only when the caller wanted it, the
heuristic found questions, and the client declared form elicitation; otherwise it
returns ``NotAsked`` and the tool hands the questions back. A host without the
capability is never sent a request (the SDK would fail the whole call), and a
decline or cancel is an ordinary outcome, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mcp.server.mcpserver import (
    AcceptedElicitation,
    Context,
    Elicit,
    ElicitationResult,
)
from pydantic import BaseModel, Field, create_model

from loopcore.errors import InvalidInput
from loopcore.ids import task_ref

if TYPE_CHECKING:
    from loopcore.intercept import Question

__all__ = [
    "MAX_ANSWER_CHARS",
    "MAX_QUESTIONS",
    "Asked",
    "NotAsked",
    "answers_model",
    "ask_questions",
    "can_elicit",
    "nobody_to_ask",
    "read_outcome",
]

MAX_QUESTIONS = 3
"""At most this many questions in one form: the ones worth most."""
MAX_ANSWER_CHARS = 2000

Status = Literal[
    "not_requested", "no_questions", "unsupported", "accepted", "empty", "declined", "cancelled"
]


class NotAsked(BaseModel):
    """The resolver's answer when nothing was asked, and why."""

    status: Literal["not_requested", "no_questions", "unsupported"]


@dataclass(frozen=True, kw_only=True)
class Asked:
    """What asking the user gave: the status, the answers by blank, a sentence for the agent."""

    status: Status
    answers: dict[str, str]
    note: str


def can_elicit(ctx: Context[Any, Any]) -> bool:
    """Whether the client declared form elicitation (a bare ``elicitation: {}`` counts)."""
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def nobody_to_ask(arguments: Mapping[str, Any], context: Context[Any, Any] | None) -> bool:
    """A call from a host that declared no form elicitation: a resolver that would ask the
    person (approve a task, let a command run) can only answer "unsupported" (nothing
    approved), whatever the call; its tool may take its resolver-free twin."""
    return context is not None and not can_elicit(context)


def answers_model(questions: tuple[Question, ...]) -> type[BaseModel]:
    """A flat form with one optional text field per question, named by its blank."""
    fields: dict[str, Any] = {
        q.blank: (
            str,
            Field(
                default="",
                max_length=MAX_ANSWER_CHARS,
                title=_blanks().get(q.blank, q.blank),
                description=q.text,
            ),
        )
        for q in questions
    }
    model: type[BaseModel] = create_model("InterceptAnswers", **fields)
    return model


def _message(questions: tuple[Question, ...]) -> str:
    lines = "\n".join(f"- {q.text}" for q in questions)
    return (
        "Your request leaves some blanks. Answers are added to the request before the agent "
        f"works on it; leave a field empty to skip it.\n{lines}"
    )


async def ask_questions(
    prompt: str,
    context: str | None,
    ask_user: bool,
    plan_id: str | None,
    task_id: str | None,
    ctx: Context[Any, Any],
) -> Elicit[BaseModel] | NotAsked:
    """Resolver of intercept: ask the top questions when ``ask_user`` and the host can.

    Deterministic in its arguments (the SDK may run it again on a later round and
    matches the answer to the exact question it asked). A call the tool will refuse
    (only one of plan_id/task_id) asks nothing.
    """
    if not ask_user or not _pairs(plan_id, task_id):
        return NotAsked(status="not_requested")
    from loopcore.intercept import score_prompt  # the scorer loads on the first intercept

    questions = score_prompt(prompt, context).questions[:MAX_QUESTIONS]
    if not questions:
        return NotAsked(status="no_questions")
    if not can_elicit(ctx):
        return NotAsked(status="unsupported")
    return Elicit(_message(questions), answers_model(questions))


_NOTES: dict[Status, str] = {
    "not_requested": "",
    "no_questions": "nothing to ask: the heuristic found no blank worth a question",
    "unsupported": "this host cannot ask the user (no form elicitation): ask the questions "
    "yourself, then call intercept again with the answers in the prompt",
    "accepted": "the user's answers are folded into improved_prompt: act on it",
    "empty": "the user left every answer empty: ask the questions yourself if they matter",
    "declined": "the user declined to answer: ask the questions yourself, or proceed with care",
    "cancelled": "the user dismissed the questions: ask them yourself, or proceed with care",
}


def read_outcome(outcome: ElicitationResult[BaseModel]) -> Asked:
    """The status and the non-empty answers (by blank) of the resolver's outcome."""
    status: Status
    answers: dict[str, str] = {}
    if isinstance(outcome, AcceptedElicitation):
        data = outcome.data
        if isinstance(data, NotAsked):
            status = data.status
        else:
            raw = data.model_dump() if isinstance(data, BaseModel) else {}
            answers = {
                k: " ".join(v.split())
                for k, v in raw.items()
                if k in _blanks() and isinstance(v, str) and v.strip()
            }
            status = "accepted" if answers else "empty"
    else:
        status = "declined" if outcome.action == "decline" else "cancelled"
    return Asked(status=status, answers=answers, note=_NOTES[status])


def _pairs(plan_id: str | None, task_id: str | None) -> bool:
    """Whether the ids pass the domain's pairing rule (``loopcore.ids.task_ref``)."""
    try:
        task_ref(plan_id, task_id)
    except InvalidInput:
        return False
    return True


def _blanks() -> dict[str, str]:
    """The scorer's blanks by name (imported when first needed, not at start-up)."""
    from loopcore.intercept import BLANKS

    return dict(BLANKS)
