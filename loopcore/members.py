"""A team's members: a name, the projects it may reach, a bearer token kept only as a hash.

``add`` makes a fresh 32-byte random token, stores its sha256 and returns the
token once (it cannot be read back); ``lookup`` finds the active member whose
token hashes to the stored hash; ``revoke`` stamps ``revoked_at`` so the token
stops working (the row stays, so ``list`` shows who was revoked and when).
Both stores keep members in the ``members`` table (migration 3); the SQL here
is bound parameters only, written once with ``?`` and adapted to psycopg's
``%s``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loopcore.clock import Clock, system_clock
from loopcore.errors import Conflict, InvalidInput, NotFound
from loopcore.ids import check_project
from loopcore.store import Store
from loopcore.store.postgres import is_pg_tx

__all__ = ["Member", "MemberService", "hash_token"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOKEN_PREFIX = "lc_"  # noqa: S105 - a prefix that makes leaked tokens easy to spot


def hash_token(token: str) -> str:
    """The stored form of a bearer token: its sha256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class Member:
    """One member: the agent identity on claims and in the journal, and its projects.

    ``projects[0]`` is the project used when a request names none.
    """

    name: str
    projects: tuple[str, ...]
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"member name {name!r} is not allowed: 1-64 characters, letters, digits and . _ @ -, "
            "starting with a letter or digit"
        )
    return name


def _check_projects(projects: Sequence[str]) -> tuple[str, ...]:
    if not projects:
        raise InvalidInput("a member needs at least one project (--project P)")
    checked = tuple(dict.fromkeys(check_project(p) for p in projects))
    return checked


def _sql(tx: Any, sql: str) -> str:
    return sql.replace("?", "%s") if is_pg_tx(tx) else sql


def _row(row: Any) -> Member:
    name, projects, created_at, revoked_at = (
        (row["name"], row["projects"], row["created_at"], row["revoked_at"])
        if isinstance(row, dict)
        else tuple(row)
    )
    return Member(
        name=str(name),
        projects=tuple(json.loads(projects)),
        created_at=float(created_at),
        revoked_at=None if revoked_at is None else float(revoked_at),
    )


class MemberService:
    """Members of the team whose plans live in ``store``."""

    def __init__(self, store: Store, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock

    def add(self, name: str, projects: Sequence[str]) -> tuple[Member, str]:
        """A new member and its bearer token (returned once, stored only as a hash).

        A revoked member's name may be given again (a new token replaces the old row).

        Raises:
            InvalidInput: a bad name or project, or no project. Conflict: an active
                member of that name exists.
        """
        name = _check_name(name)
        checked = _check_projects(projects)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        with self._store.write() as tx:
            conn = tx._conn  # type: ignore[attr-defined]
            row = conn.execute(
                _sql(
                    tx, "SELECT name, projects, created_at, revoked_at FROM members WHERE name = ?"
                ),
                (name,),
            ).fetchone()
            if row is not None and _row(row).active:
                raise Conflict(
                    f"member {name!r} exists; revoke it first (loopcore members revoke {name})"
                )
            if row is not None:
                conn.execute(_sql(tx, "DELETE FROM members WHERE name = ?"), (name,))
            conn.execute(
                _sql(
                    tx,
                    "INSERT INTO members (name, token_hash, projects, created_at, revoked_at) "
                    "VALUES (?, ?, ?, ?, NULL)",
                ),
                (name, hash_token(token), json.dumps(list(checked)), now),
            )
        return Member(name=name, projects=checked, created_at=now, revoked_at=None), token

    def list(self) -> list[Member]:
        """Every member, active and revoked, by name."""
        with self._store.read() as tx:
            rows = tx._conn.execute(  # type: ignore[attr-defined]
                "SELECT name, projects, created_at, revoked_at FROM members ORDER BY name"
            ).fetchall()
        return [_row(r) for r in rows]

    def revoke(self, name: str) -> Member:
        """Stop ``name``'s token from working (every replica refuses it at its next request).

        Raises:
            NotFound: no active member of that name.
        """
        now = self._clock()
        with self._store.write() as tx:
            conn = tx._conn  # type: ignore[attr-defined]
            cur = conn.execute(
                _sql(
                    tx,
                    "UPDATE members SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL "
                    "RETURNING name, projects, created_at, revoked_at",
                ),
                (now, name),
            )
            row = cur.fetchone()
        if row is None:
            raise NotFound(f"no active member named {name!r} (see loopcore members list)")
        return _row(row)

    def lookup(self, token: str) -> Member | None:
        """The active member holding ``token``, or None."""
        with self._store.read() as tx:
            row = tx._conn.execute(  # type: ignore[attr-defined]
                _sql(
                    tx,
                    "SELECT name, projects, created_at, revoked_at FROM members "
                    "WHERE token_hash = ? AND revoked_at IS NULL",
                ),
                (hash_token(token),),
            ).fetchone()
        return None if row is None else _row(row)

    def any_active(self) -> bool:
        """Whether the store has at least one active member (then every request needs a token)."""
        with self._store.read() as tx:
            row = tx._conn.execute(  # type: ignore[attr-defined]
                "SELECT COUNT(*) AS n FROM members WHERE revoked_at IS NULL"
            ).fetchone()
        n = row["n"] if isinstance(row, dict) else row[0]
        return bool(n)
