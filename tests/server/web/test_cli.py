"""``loopcore dashboard``'s pieces in process: the state file, the probe, the port claim,
the token rule. (The whole command runs as a process in tests/e2e/test_dashboard.py.)"""

from __future__ import annotations

import argparse
import io
import socket
import time
from pathlib import Path

import pytest

from loopcore.store import SqliteStore
from server.settings import SettingsError
from server.web import cli, dashboard_app
from tests.server.web.conftest import Served
from tests.server.web.seed import Seeded


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("LOOPCORE_TOKEN", raising=False)


def _args(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {"db": None, "host": "127.0.0.1", "port": None, "log_level": None}
    values.update(given)
    return argparse.Namespace(**values)


def test_the_state_file_is_in_the_user_data_dir(tmp_path: Path) -> None:
    """dashboard.json under <XDG_DATA_HOME>/loopcore."""
    assert cli.state_file() == tmp_path / "data" / "loopcore" / "dashboard.json"


def test_a_recorded_dashboard_is_removed_when_it_stops(tmp_path: Path) -> None:
    """While serving, the entry names this pid and port; afterwards it is gone."""
    db = tmp_path / "x.db"
    with cli._recorded(db, "127.0.0.1", 4321):
        entry = cli._read_state()[str(db)]
    assert (entry["port"], entry["url"]) == (4321, "http://127.0.0.1:4321/")
    assert cli._read_state() == {}


def test_an_unreadable_state_file_counts_as_empty(tmp_path: Path) -> None:
    """A corrupt state file is ignored, not an error."""
    cli.state_file().parent.mkdir(parents=True)
    cli.state_file().write_text("{not json")
    assert cli._read_state() == {}
    assert cli._running(tmp_path / "x.db", None) is None


def test_the_probe_knows_a_dashboard_of_this_database(store: SqliteStore, seeded: Seeded) -> None:
    """/api/health of this database: recognised; another database or no server: not."""
    db = Path(store.location).resolve()
    with Served(dashboard_app(lambda: store)) as base:
        port = int(base.rsplit(":", 1)[1])
        mine = cli._probe("127.0.0.1", port, db, None)
        other = cli._probe("127.0.0.1", port, db.with_name("other.db"), None)
        with cli._recorded(db, "127.0.0.1", port):
            running = cli._running(db, None)
    assert (mine, other) == (True, False)
    assert running == f"http://127.0.0.1:{port}/"
    assert cli._probe("127.0.0.1", port, db, None) is False  # stopped


def test_claiming_a_free_port_binds_it(tmp_path: Path) -> None:
    """A free explicit port comes back as a listening socket."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sock = cli._claim_port("127.0.0.1", port, tmp_path / "x.db", None)
    assert isinstance(sock, socket.socket)
    with sock:
        assert sock.getsockname()[1] == port


def test_the_default_port_taken_by_another_program_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --port and the default taken by something else: an ephemeral port instead."""
    monkeypatch.setattr(cli, "_probe", lambda *a: False)
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        taken = other.getsockname()[1]
        monkeypatch.setattr(cli, "DEFAULT_PORT", taken)
        monkeypatch.setattr(time, "sleep", lambda _: None)
        sock = cli._claim_port("127.0.0.1", None, tmp_path / "x.db", None)
    assert isinstance(sock, socket.socket)
    with sock:
        assert sock.getsockname()[1] not in (0, taken)


def test_a_non_loopback_host_without_a_token_is_refused(tmp_path: Path) -> None:
    """--host 0.0.0.0 and no LOOPCORE_TOKEN: SettingsError naming the variable."""
    with pytest.raises(SettingsError, match="LOOPCORE_TOKEN"):
        cli.run_dashboard(_args(db=str(tmp_path / "x.db"), host="0.0.0.0"), io.StringIO())


def test_a_second_start_prints_the_running_url(store: SqliteStore, seeded: Seeded) -> None:
    """run_dashboard finds the recorded, live dashboard of its database and prints its URL."""
    db = Path(store.location).resolve()
    out = io.StringIO()
    with Served(dashboard_app(lambda: store)) as base:
        port = int(base.rsplit(":", 1)[1])
        with cli._recorded(db, "127.0.0.1", port):
            code = cli.run_dashboard(_args(db=str(db)), out)
    assert code == 0
    assert out.getvalue() == f"loopcore dashboard already running: http://127.0.0.1:{port}/\n"


def test_wildcard_binds_accept_any_host_name() -> None:
    """0.0.0.0 is reached under any name; a named host adds itself to the loopback names."""
    assert cli._allowed_hosts("0.0.0.0") == ["*"]
    assert "box.lan" in cli._allowed_hosts("box.lan")
    assert cli._url("::1", 80) == "http://[::1]:80/"
