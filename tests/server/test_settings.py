"""Settings: read once from flags over LOOPCORE_* variables over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings, SettingsError, forget_secrets, is_loopback


def test_defaults_without_environment() -> None:
    """With nothing set: stdio, all tools, loopback, no token, no commands, prompts not kept."""
    s = Settings.load({}, env={})
    assert (s.transport, s.tools, s.host, s.port) == ("stdio", "all", "127.0.0.1", 8000)
    assert (s.token, s.allow_commands, s.store_prompts, s.db) == (None, frozenset(), False, None)


def test_environment_is_read() -> None:
    """Every LOOPCORE_* variable lands in its field, parsed."""
    env = {
        "LOOPCORE_DB": "/tmp/x.db",
        "LOOPCORE_TOOLS": "CORE",
        "LOOPCORE_ALLOW_COMMANDS": "pytest, ruff ,,",
        "LOOPCORE_STORE_PROMPTS": "on",
        "LOOPCORE_TOKEN": "s3cret",
        "LOOPCORE_PORT": "9001",
        "LOOPCORE_PROVIDER_MODEL": "m",
    }
    s = Settings.load({}, env=env)
    assert (s.db, s.tools, s.port, s.provider_model) == (Path("/tmp/x.db"), "core", 9001, "m")
    assert s.allow_commands == frozenset({"pytest", "ruff"})
    assert s.store_prompts is True
    assert s.token is not None and s.token.get_secret_value() == "s3cret"


def test_flags_win_over_environment() -> None:
    """A CLI flag overrides the variable; a flag left unset (None) does not."""
    env = {"LOOPCORE_PORT": "9001", "LOOPCORE_PROJECT": "from-env"}
    s = Settings.load({"port": 9002, "project": None}, env=env)
    assert (s.port, s.project) == (9002, "from-env")


def test_bad_variable_is_named() -> None:
    """A bad value names the variable it came from."""
    with pytest.raises(SettingsError, match="LOOPCORE_TOOLS"):
        Settings.load({}, env={"LOOPCORE_TOOLS": "some"})


def test_bad_flag_is_named() -> None:
    """A bad value given as a flag names the flag."""
    with pytest.raises(SettingsError, match="--port"):
        Settings.load({"port": 70000}, env={})


def test_bad_boolean_is_refused() -> None:
    """LOOPCORE_STORE_PROMPTS accepts only clear on/off words."""
    with pytest.raises(SettingsError, match="LOOPCORE_STORE_PROMPTS"):
        Settings.load({}, env={"LOOPCORE_STORE_PROMPTS": "maybe"})


def test_token_is_not_shown_in_repr() -> None:
    """The token never appears when the settings are printed or logged."""
    s = Settings.load({}, env={"LOOPCORE_TOKEN": "s3cret"})
    assert "s3cret" not in repr(s)


def test_project_key_defaults_to_the_working_directory() -> None:
    """Without a project setting the key is the working directory."""
    assert Settings.load({}, env={}).project_key == str(Path.cwd().resolve())


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.5", False), ("example.com", False)],
)  # fmt: skip
def test_loopback_detection(host: str, expected: bool) -> None:
    """Only addresses of this machine count as loopback."""
    assert is_loopback(host) is expected


def test_command_environment_never_carries_loopcore_settings() -> None:
    """The environment handed to commands drops LOOPCORE_* (the token, the provider key)."""
    env = {
        "PATH": "/usr/bin",
        "CI_FLAG": "1",
        "LOOPCORE_TOKEN": "t0ken",
        "LOOPCORE_PROVIDER_API_KEY": "sk-secret",
    }
    settings = Settings.load(env=env)
    assert settings.command_environ == {"PATH": "/usr/bin", "CI_FLAG": "1"}
    direct = Settings(command_environ=env)
    assert "LOOPCORE_PROVIDER_API_KEY" not in direct.command_environ


def test_secrets_can_be_given_as_files(tmp_path: Path) -> None:
    """LOOPCORE_TOKEN_FILE and LOOPCORE_PROVIDER_API_KEY_FILE are read, whitespace stripped."""
    (tmp_path / "token").write_text("tok-from-file\n")
    (tmp_path / "key").write_text("  key-from-file  \n")
    env = {
        "LOOPCORE_TOKEN_FILE": str(tmp_path / "token"),
        "LOOPCORE_PROVIDER_API_KEY_FILE": str(tmp_path / "key"),
    }
    settings = Settings.load(env=env)
    assert settings.token is not None and settings.token.get_secret_value() == "tok-from-file"
    key = settings.provider_api_key
    assert key is not None and key.get_secret_value() == "key-from-file"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOOPCORE_TOKEN": "t", "LOOPCORE_TOKEN_FILE": "/x"}, "not both"),
        ({"LOOPCORE_TOKEN_FILE": "/nonexistent/loopcore-token"}, "cannot read"),
    ],
)
def test_bad_secret_files_are_named(env: dict[str, str], message: str) -> None:
    """Both forms at once, or a file that cannot be read, is a SettingsError naming the variable."""
    with pytest.raises(SettingsError) as caught:
        Settings.load(env=env)
    assert str(caught.value).startswith("LOOPCORE_TOKEN_FILE: ")
    assert message in str(caught.value)


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    """An empty token file would turn authentication off by accident: refused."""
    (tmp_path / "token").write_text("\n")
    with pytest.raises(SettingsError, match="is empty"):
        Settings.load(env={"LOOPCORE_TOKEN_FILE": str(tmp_path / "token")})


def test_forget_secrets_removes_them_from_the_environment() -> None:
    """After loading, the secret variables leave the environment children inherit."""
    env = {"LOOPCORE_TOKEN": "t", "LOOPCORE_PROVIDER_API_KEY": "k", "LOOPCORE_DB": "x", "P": "1"}
    settings = Settings.load(env=env)
    forget_secrets(env)
    assert env == {"LOOPCORE_DB": "x", "P": "1"}
    assert settings.token is not None and settings.token.get_secret_value() == "t"


def test_evaluation_budget_is_a_setting() -> None:
    """LOOPCORE_EVALUATION_BUDGET_S defaults to 5 s and is read from the environment."""
    assert Settings.load(env={}).evaluation_budget_s == 5.0
    assert Settings.load(env={"LOOPCORE_EVALUATION_BUDGET_S": "2.5"}).evaluation_budget_s == 2.5
    with pytest.raises(SettingsError, match="LOOPCORE_EVALUATION_BUDGET_S"):
        Settings.load(env={"LOOPCORE_EVALUATION_BUDGET_S": "0"})


def test_hook_settings_from_the_environment() -> None:
    """LOOPCORE_HOOK_MIN_GRADE (any case) and LOOPCORE_HOOK_BLOCK_PROMPTS; bad grades named."""
    s = Settings.load(env={"LOOPCORE_HOOK_MIN_GRADE": "b", "LOOPCORE_HOOK_BLOCK_PROMPTS": "on"})
    assert (s.hook_min_grade, s.hook_block_prompts) == ("B", True)
    assert (Settings.load(env={}).hook_min_grade, Settings.load(env={}).hook_block_prompts) == (
        "C",
        False,
    )
    with pytest.raises(SettingsError, match="LOOPCORE_HOOK_MIN_GRADE"):
        Settings.load(env={"LOOPCORE_HOOK_MIN_GRADE": "E"})


def test_transport_limits_are_read_and_bounded() -> None:
    """The HTTP and evaluation-pool limits come from their variables; a zero is refused."""
    env = {
        "LOOPCORE_EVAL_WORKERS": "3",
        "LOOPCORE_EVAL_SESSION_SHARE": "0.34",
        "LOOPCORE_HTTP_HEADER_TIMEOUT_S": "2.5",
        "LOOPCORE_HTTP_BODY_TIMEOUT_S": "7",
        "LOOPCORE_HTTP_MAX_CONNECTIONS": "9",
        "LOOPCORE_HTTP_MAX_SESSIONS": "4",
        "LOOPCORE_HTTP_SESSION_IDLE_S": "60",
    }
    s = Settings.load(env=env)
    assert (s.eval_workers, s.eval_session_share) == (3, 0.34)
    assert (s.http_header_timeout_s, s.http_body_timeout_s) == (2.5, 7.0)
    assert (s.http_max_connections, s.http_max_sessions, s.http_session_idle_s) == (9, 4, 60.0)
    with pytest.raises(SettingsError, match="LOOPCORE_HTTP_HEADER_TIMEOUT_S"):
        Settings.load(env={"LOOPCORE_HTTP_HEADER_TIMEOUT_S": "0"})
