"""``loopcore members add|list|revoke``: the members of a team and their bearer tokens.

``add NAME --project P [--project P2 ...]`` prints the new token once (only its
sha256 is stored); ``list`` shows every member, active and revoked; ``revoke
NAME`` stops the token (every replica refuses it within a second). The database
is ``--db`` or ``LOOPCORE_DB`` (a team's is a ``postgresql://`` URL).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any, TextIO

from loopcore.members import MemberService
from loopcore.store import open_store
from server.settings import Settings

__all__ = ["add_members_parser", "run_members"]


def add_members_parser(sub: Any) -> None:
    """The ``members`` verb: add, list, revoke."""
    members = sub.add_parser("members", help="a team's members and their bearer tokens")
    actions = members.add_subparsers(dest="members_action", required=True)
    add = actions.add_parser(
        "add",
        help="add a member; prints its bearer token once",
        description="Add a member who may reach the given projects (the first is their "
        "default). The bearer token is printed once and stored only as a hash.",
    )
    add.add_argument("name", help="the member's name: their agent identity on claims")
    add.add_argument(
        "--project", action="append", required=True, help="a project the member may reach"
    )
    listing = actions.add_parser("list", help="every member, active and revoked")
    revoke = actions.add_parser("revoke", help="revoke a member's token")
    revoke.add_argument("name")
    for p in (add, listing, revoke):
        p.add_argument("--db", help="SQLite database file or postgresql:// URL (LOOPCORE_DB)")


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def run_members(args: argparse.Namespace, out: TextIO) -> int:
    """Run one ``members`` action. Errors propagate as ``LoopcoreError``."""
    settings = Settings.load({"db": args.db})
    store, _ = open_store(settings.db)
    try:
        members = MemberService(store)
        if args.members_action == "add":
            member, token = members.add(args.name, args.project)
            out.write(f"added member {member.name} (projects: {', '.join(member.projects)})\n")
            out.write("bearer token (shown once, stored only as a hash):\n")
            out.write(f"{token}\n")
            return 0
        if args.members_action == "revoke":
            member = members.revoke(args.name)
            out.write(f"revoked {member.name}: every replica refuses its token from now on\n")
            return 0
        rows = members.list()
        out.write(f"{'name':<24} {'status':<8} {'added':<21} {'revoked':<21} projects\n")
        for m in rows:
            status = "active" if m.active else "revoked"
            out.write(
                f"{m.name:<24} {status:<8} {_when(m.created_at):<21} {_when(m.revoked_at):<21} "
                f"{', '.join(m.projects)}\n"
            )
        return 0
    finally:
        store.close()
