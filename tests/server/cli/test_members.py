"""``loopcore members add|list|revoke`` on both stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopcore.members import MemberService, hash_token
from loopcore.store import open_store
from server.cli import main


def test_add_prints_the_token_once_list_and_revoke(
    where: str | Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(where)
    assert main(["members", "add", "alice", "--project", "A", "--project", "B", "--db", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "added member alice (projects: A, B)"
    token = out[2]
    store, _ = open_store(where)
    try:
        found = MemberService(store).lookup(token)
        assert found is not None and found.name == "alice"
        with store.read() as tx:
            row = tx._conn.execute("SELECT token_hash FROM members").fetchone()
        assert row is not None and row["token_hash"] == hash_token(token) != token
    finally:
        store.close()

    assert main(["members", "list", "--db", db]) == 0
    listing = capsys.readouterr().out
    assert "alice" in listing and "active" in listing and "A, B" in listing
    assert token not in listing

    assert main(["members", "revoke", "alice", "--db", db]) == 0
    assert "revoked alice" in capsys.readouterr().out
    assert main(["members", "list", "--db", db]) == 0
    assert "revoked" in capsys.readouterr().out.splitlines()[1]


def test_refusals_say_what_to_do(where: str | Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(where)
    assert main(["members", "add", "bob", "--project", "A", "--db", db]) == 0
    capsys.readouterr()
    assert main(["members", "add", "bob", "--project", "A", "--db", db]) == 1
    assert "revoke it first" in capsys.readouterr().err
    assert main(["members", "revoke", "nobody", "--db", db]) == 1
    assert "no active member named 'nobody'" in capsys.readouterr().err
    assert main(["members", "add", "x y", "--project", "A", "--db", db]) == 1
    assert "is not allowed" in capsys.readouterr().err
