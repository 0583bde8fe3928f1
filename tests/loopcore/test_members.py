"""Members on both stores: tokens stored only as hashes, lookup, revoke, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import Conflict, InvalidInput, NotFound
from loopcore.members import MemberService, hash_token
from loopcore.store import Store


def _raw_rows(store: Store) -> list[tuple[Any, ...]]:
    with store.read() as tx:
        rows = tx._conn.execute(  # type: ignore[attr-defined]
            "SELECT name, token_hash, projects FROM members ORDER BY name"
        ).fetchall()
    return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]


def test_add_returns_a_token_once_and_stores_only_its_hash(store: Store, clock: FixedClock) -> None:
    members = MemberService(store, clock)
    member, token = members.add("alice", ["A", "B", "A"])
    assert member.projects == ("A", "B") and member.active
    assert token.startswith("lc_") and len(token) > 40
    rows = _raw_rows(store)
    assert rows == [("alice", hash_token(token), '["A", "B"]')]
    assert token not in repr(rows)
    assert members.lookup(token) == member
    assert members.lookup(token + "x") is None
    assert members.any_active()


def test_revoke_stops_the_token_and_a_revoked_name_can_be_added_again(
    store: Store, clock: FixedClock
) -> None:
    members = MemberService(store, clock)
    _, old = members.add("bob", ["B"])
    with pytest.raises(Conflict, match="revoke it first"):
        members.add("bob", ["B"])
    clock.advance(5)
    revoked = members.revoke("bob")
    assert revoked.revoked_at == clock() and not revoked.active
    assert members.lookup(old) is None
    assert not members.any_active()
    with pytest.raises(NotFound, match="no active member named 'bob'"):
        members.revoke("bob")
    _, new = members.add("bob", ["C"])
    assert members.lookup(old) is None
    found = members.lookup(new)
    assert found is not None and found.projects == ("C",)
    assert [m.name for m in members.list()] == ["bob"]


@pytest.mark.parametrize(
    ("name", "projects", "match"),
    [
        ("x y", ["A"], "member name 'x y' is not allowed"),
        ("", ["A"], "member name '' is not allowed"),
        ("ok", [], "at least one project"),
        ("ok", [""], "project"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    store: Store, name: str, projects: list[str], match: str
) -> None:
    members = MemberService(store)
    with pytest.raises(InvalidInput, match=match):
        members.add(name, projects)
    assert members.list() == []
