"""The server on PostgreSQL: tools through the official Client (in process and over stdio),
clear tool errors while the database is gone and recovery without a restart, doctor, settings."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psycopg
import pytest
from mcp import Client, StdioServerParameters

from server.app import build_server
from server.cli import main
from server.settings import Settings, SettingsError
from tests.pg_cluster import Cluster, find_bin
from tests.server.helpers import make_settings, new_plan, ok

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.anyio
async def test_tools_work_on_postgres_in_process(tmp_path: Path, pg_url: str) -> None:
    settings = make_settings(tmp_path, db=pg_url, db_pool_size=2)
    async with Client(build_server(settings)) as c:
        plan_id = await new_plan(c)
        claimed = await ok(c, "plan_next_task", {"plan_id": plan_id, "agent": "a"})
        assert claimed["task"]["id"] == "a"
    async with Client(build_server(settings)) as c:  # a second server sees the first's writes
        status = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
    assert {t["id"]: t["status"] for t in status["tasks"]}["a"] == "in_progress"
    assert not (tmp_path / "loopcore.db").exists()


@pytest.mark.slow
@pytest.mark.anyio
async def test_serve_over_stdio_with_a_postgres_url(tmp_path: Path, pg_url: str) -> None:
    # PYTHONPATH makes the subprocess import this checkout (not another editable install).
    main = "import sys; from server.cli import main; sys.exit(main())"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", main, "serve", "--db", pg_url, "--project", "stdio"],
        env={"HOME": str(tmp_path), "LOOPCORE_DB_POOL_SIZE": "2", "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )
    async with Client(params, mode="legacy") as c:
        plan_id = await new_plan(c)
        claimed = await ok(c, "plan_next_task", {"plan_id": plan_id, "agent": "s"})
    assert claimed["task"]["id"] == "a"
    assert list(tmp_path.iterdir()) == []  # nothing was written beside the server
    with psycopg.connect(pg_url) as conn:  # the plan and its claim are in PostgreSQL
        row = conn.execute(
            "SELECT p.project, t.claimed_by FROM plans p JOIN tasks t ON t.plan_id = p.id "
            "WHERE p.id = %s AND t.id = 'a'",
            (plan_id,),
        ).fetchone()
    assert row == ("stdio", "s")


@pytest.mark.slow
@pytest.mark.anyio
async def test_losing_the_database_gives_tool_errors_and_the_server_recovers(
    tmp_path: Path,
) -> None:
    pg_bin = find_bin()
    if pg_bin is None:
        pytest.skip("PostgreSQL is not installed")
    cluster = Cluster(pg_bin, synchronous_commit=True)
    try:
        url = cluster.url(cluster.create_database())
        settings = make_settings(tmp_path, db=url, db_pool_timeout_s=1.0, db_connect_timeout_s=1.0)
        async with Client(build_server(settings)) as c:
            plan_id = await new_plan(c)
            cluster.stop()
            result = await c.call_tool("plan_next_task", {"plan_id": plan_id})
            assert result.is_error
            text = " ".join(getattr(x, "text", "") for x in result.content)
            assert (
                "storage problem" in text and "PostgreSQL database postgresql://postgres@" in text
            )
            cluster.start()
            deadline = time.monotonic() + 90
            while (result := await c.call_tool("plan_next_task", {"plan_id": plan_id})).is_error:
                assert time.monotonic() < deadline, "the server did not recover within 90 s"
                time.sleep(0.2)
            assert result.structured_content is not None
            assert result.structured_content["task"]["id"] == "a"
    finally:
        cluster.destroy()


def test_doctor_on_postgres(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    secret_url = pg_url.replace("postgres@", "postgres:hunter2@")  # trust auth ignores it
    assert main(["doctor", "--db", secret_url, "--project", "p"]) == 0
    out = capsys.readouterr().out
    assert f"database: {pg_url}" in out
    assert "schema version: 2" in out and "PostgreSQL 1" in out and "reachable" in out
    assert "hunter2" not in out


def test_pool_settings_come_from_the_environment() -> None:
    env = {
        "LOOPCORE_DB": "postgresql://u@h/d",
        "LOOPCORE_DB_POOL_SIZE": "4",
        "LOOPCORE_DB_POOL_TIMEOUT_S": "2.5",
        "LOOPCORE_DB_CONNECT_TIMEOUT_S": "3",
        "LOOPCORE_DB_STATEMENT_TIMEOUT_S": "9",
    }
    s = Settings.load(env=env)
    assert s.db == "postgresql://u@h/d"
    assert (s.db_pool_size, s.db_pool_timeout_s, s.db_connect_timeout_s) == (4, 2.5, 3.0)
    assert s.db_statement_timeout_s == 9.0
    assert Settings.load(env={"LOOPCORE_DB": "x.db"}).db == Path("x.db")
    with pytest.raises(SettingsError, match="LOOPCORE_DB_POOL_SIZE"):
        Settings.load(env={"LOOPCORE_DB_POOL_SIZE": "0"})
