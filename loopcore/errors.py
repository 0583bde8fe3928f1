"""The one exception tree of loopcore.

Every error the domain raises on purpose is a ``LoopcoreError``; the server
translates it once into a tool error a model can act on::

    LoopcoreError
    ├── InvalidInput        a value a caller sent is wrong (names the field and what is allowed)
    ├── NotFound            an id that does not exist
    │   ├── PlanNotFound
    │   ├── TaskNotFound
    │   └── LoopNotFound
    ├── Conflict            the request clashes with the current state
    │   │                   (version clash, task already claimed, cycle in dependencies)
    │   └── ApprovalRequired  a command needs a person's approval before it runs
    ├── StoreError          the database failed or is unusable (e.g. newer than the code)
    └── ProviderError       an LLM provider or the host's model failed

Anything else that escapes is a bug: the server logs it with its traceback on
stderr and answers without internals.

Messages say what is wrong in the domain's own words and name no MCP tool or
CLI command: the server adds tool hints (``server.errors.HINTS``), the CLI its
own, keyed on the error's class or its ``kind`` (a short code for a case a
class does not tell apart, such as ``loop_stopped``).
"""

from __future__ import annotations

__all__ = [
    "ApprovalRequired",
    "Conflict",
    "InvalidInput",
    "LoopNotFound",
    "LoopcoreError",
    "NotFound",
    "PlanNotFound",
    "ProviderError",
    "RetryableStoreError",
    "StoreError",
    "TaskNotFound",
]


class LoopcoreError(Exception):
    """Base of every error loopcore raises on purpose.

    Args:
        message: what went wrong, in the domain's terms.
        kind: a short code for the case, for callers that add their own advice.
    """

    def __init__(self, message: str = "", *, kind: str | None = None) -> None:
        self.kind = kind
        super().__init__(message)


class InvalidInput(LoopcoreError):
    """A value a caller sent is wrong.

    Args:
        message: what is wrong and what is allowed.
        field: the dotted name of the offending field, when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None, kind: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message, kind=kind)


class NotFound(LoopcoreError):
    """An id that does not exist (never answered as "complete" or "empty")."""


class PlanNotFound(NotFound):
    """No plan with that id in this project."""

    def __init__(self, plan_id: str) -> None:
        self.plan_id = plan_id
        super().__init__(f"no plan with id {plan_id!r}")


class TaskNotFound(NotFound):
    """No task with that id in the plan."""

    def __init__(self, plan_id: str, task_id: str) -> None:
        self.plan_id = plan_id
        self.task_id = task_id
        super().__init__(f"plan {plan_id!r} has no task {task_id!r}")


class LoopNotFound(NotFound):
    """No loop with that id."""

    def __init__(self, loop_id: str) -> None:
        self.loop_id = loop_id
        super().__init__(f"no loop with id {loop_id!r}")


class Conflict(LoopcoreError):
    """The request clashes with the current state (a claim, a version, a cycle)."""


class ApprovalRequired(Conflict):
    """A ``command`` spec with ``approval: true`` was about to run without a person's yes."""

    def __init__(self, command: str) -> None:
        super().__init__(f"command `{command}` needs a person's approval before it runs")
        self.command = command


class StoreError(LoopcoreError):
    """The store failed or cannot be used (for example, a database newer than the code)."""


class RetryableStoreError(StoreError):
    """A transaction lost a serialization race or a deadlock and left nothing: running the
    whole operation again is safe."""


class ProviderError(LoopcoreError):
    """A model provider failed: authentication, a malformed answer, or retries exhausted."""
