"""Ids and the checks on text callers send, shared by every service.

Ids are random (``new_id``); a task id is the caller's own and must be short
and plain; every text field has a size bound (``check_text``), and a project
key is any non-empty text of bounded size.
"""

from __future__ import annotations

import base64
import re
import secrets

from loopcore.errors import InvalidInput
from loopcore.limits import ID_PATTERN, LIMITS

__all__ = [
    "MAX_PROJECT_CHARS",
    "check_project",
    "check_task_id",
    "check_text",
    "new_id",
    "task_ref",
]

MAX_PROJECT_CHARS = LIMITS.project_chars
_TASK_ID = re.compile(ID_PATTERN)


def new_id(prefix: str) -> str:
    """A globally unique id: ``prefix`` and 12 random base32 characters (60 bits)."""
    return prefix + base64.b32encode(secrets.token_bytes(8)).decode("ascii")[:12].lower()


def check_text(value: object, field: str, *, max_chars: int, min_chars: int = 0) -> str:
    """Return ``value`` when it is a string of ``min_chars..max_chars`` characters.

    Raises:
        InvalidInput: naming ``field`` and the limit.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"must be a string, got {type(value).__name__}", field=field)
    if not min_chars <= len(value) <= max_chars:
        raise InvalidInput(
            f"must be {min_chars}..{max_chars} characters, got {len(value)}", field=field
        )
    return value


def check_project(project: object) -> str:
    """A project key: a string of 1..500 characters."""
    return check_text(project, "project", min_chars=1, max_chars=MAX_PROJECT_CHARS)


def check_task_id(value: object, field: str) -> str:
    """Return ``value`` when it is a valid task id (1..64 of ``A-Z a-z 0-9 _ . -``)."""
    if not isinstance(value, str) or not _TASK_ID.fullmatch(value):
        raise InvalidInput(
            f"must be 1..64 characters of A-Z, a-z, 0-9, '_', '.', '-', got {value!r}",
            field=field,
        )
    return value


def task_ref(plan_id: str | None, task_id: str | None) -> tuple[str, str] | None:
    """The (plan id, task id) pair a call names, or None when it names no task.

    A task id is only meaningful within its plan, so the two go together.

    Raises:
        InvalidInput: only one of the two was given (naming the missing one).
    """
    if plan_id is None and task_id is None:
        return None
    if plan_id is None or task_id is None:
        missing = "task_id" if task_id is None else "plan_id"
        raise InvalidInput("plan_id and task_id go together; pass both or neither", field=missing)
    return plan_id, task_id
