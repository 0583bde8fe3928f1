"""Every setting of the server, read once from CLI flags and ``LOOPCORE_*`` variables.

Precedence: a CLI flag, then the environment variable, then the default. The
result is one frozen pydantic model that the entry point hands down as plain
values; nothing below ``server/`` reads the environment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

__all__ = ["ENV_VARS", "SECRET_FILES", "Settings", "SettingsError", "forget_secrets", "is_loopback"]

Transport = Literal["stdio", "sse", "http"]
ToolSet = Literal["core", "all"]
LogLevel = Literal["debug", "info", "warning", "error"]

# Field name -> environment variable. One table, so `doctor` and the README can list them.
ENV_VARS: dict[str, str] = {
    "db": "LOOPCORE_DB",
    "db_pool_size": "LOOPCORE_DB_POOL_SIZE",
    "db_pool_timeout_s": "LOOPCORE_DB_POOL_TIMEOUT_S",
    "db_connect_timeout_s": "LOOPCORE_DB_CONNECT_TIMEOUT_S",
    "db_statement_timeout_s": "LOOPCORE_DB_STATEMENT_TIMEOUT_S",
    "project": "LOOPCORE_PROJECT",
    "tools": "LOOPCORE_TOOLS",
    "log_level": "LOOPCORE_LOG_LEVEL",
    "token": "LOOPCORE_TOKEN",
    "allow_commands": "LOOPCORE_ALLOW_COMMANDS",
    "store_prompts": "LOOPCORE_STORE_PROMPTS",
    "provider_base_url": "LOOPCORE_PROVIDER_BASE_URL",
    "provider_model": "LOOPCORE_PROVIDER_MODEL",
    "provider_api_key": "LOOPCORE_PROVIDER_API_KEY",
    "host": "LOOPCORE_HOST",
    "allowed_hosts": "LOOPCORE_ALLOWED_HOSTS",
    "port": "LOOPCORE_PORT",
    "transport": "LOOPCORE_TRANSPORT",
    "max_request_bytes": "LOOPCORE_MAX_REQUEST_BYTES",
    "command_timeout_s": "LOOPCORE_COMMAND_TIMEOUT_S",
    "regex_timeout_s": "LOOPCORE_REGEX_TIMEOUT_S",
    "approval_ttl_s": "LOOPCORE_APPROVAL_TTL_S",
    "agent_approvals": "LOOPCORE_AGENT_APPROVALS",
    "price_input_per_1k": "LOOPCORE_PRICE_INPUT_PER_1K",
    "price_output_per_1k": "LOOPCORE_PRICE_OUTPUT_PER_1K",
    "evaluation_budget_s": "LOOPCORE_EVALUATION_BUDGET_S",
    "hook_min_grade": "LOOPCORE_HOOK_MIN_GRADE",
    "hook_block_prompts": "LOOPCORE_HOOK_BLOCK_PROMPTS",
    "eval_workers": "LOOPCORE_EVAL_WORKERS",
    "eval_session_share": "LOOPCORE_EVAL_SESSION_SHARE",
    "http_header_timeout_s": "LOOPCORE_HTTP_HEADER_TIMEOUT_S",
    "http_body_timeout_s": "LOOPCORE_HTTP_BODY_TIMEOUT_S",
    "http_max_connections": "LOOPCORE_HTTP_MAX_CONNECTIONS",
    "http_max_sessions": "LOOPCORE_HTTP_MAX_SESSIONS",
    "http_session_idle_s": "LOOPCORE_HTTP_SESSION_IDLE_S",
}
# Secrets may also be given as a file holding them, so they are never in any environment.
SECRET_FILES: dict[str, str] = {
    "token": "LOOPCORE_TOKEN_FILE",
    "provider_api_key": "LOOPCORE_PROVIDER_API_KEY_FILE",
}
_SECRET_FILE_BYTES = 64 * 1024

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """A setting has a value that is not allowed (names the variable or flag)."""


def is_loopback(host: str) -> bool:
    """True when ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseModel):
    """The server's configuration.

    Attributes:
        db: the SQLite file, or a ``postgresql://`` URL for the PostgreSQL store;
            ``None`` means the user data directory's default SQLite file.
        db_pool_size / db_pool_timeout_s / db_connect_timeout_s / db_statement_timeout_s:
            the PostgreSQL connection pool (ignored for SQLite).
        project: the project key plans, loops and history are filed under;
            ``None`` means the session's first root where the host offers roots
            (``server.mcp.roots``), else the working directory of the server process.
        tools: ``core`` exposes the nine tools of a tight budget, ``all`` every tool.
        log_level: threshold of the stderr log.
        token: bearer token every HTTP request must carry; required off loopback.
        allow_commands: programs the ``command`` evaluator may run (empty: none).
        store_prompts: keep prompt text in history (off: only hashes and scores).
        provider_base_url / provider_model / provider_api_key: an OpenAI-compatible
            endpoint for server-driven refinement.
        host / port / transport: where ``loopcore serve`` listens.
        allowed_hosts: extra Host header names HTTP clients may use (DNS-rebinding
            protection), e.g. the machine's name when binding 0.0.0.0.
        max_request_bytes: largest HTTP request body accepted.
        command_timeout_s / regex_timeout_s: evaluator time limits.
        approval_ttl_s: how long an approval token stays valid (``loopcore approve``).
        agent_approvals: register ``approval_decide`` so an agent may answer approval
            tokens itself (off: only a person, through the host or the CLI).
        price_input_per_1k / price_output_per_1k: what 1,000 prompt and completion
            tokens of the configured provider cost; with both set, ``refine`` reports
            a cost and accepts a cost budget (``max_cost``).
        evaluation_budget_s: time limit of one whole evaluation (every pattern,
            composite part and schema keyword together; not a command's run).
        hook_min_grade: ``loopcore hook`` answers a submitted prompt graded below this with
            its blanks and questions.
        hook_block_prompts: ``loopcore hook`` blocks such a prompt instead (exit 2).
        eval_workers: threads that run evaluations and commands, apart from the
            transports' I/O; eval_session_share: the fraction of them one session may hold.
        http_header_timeout_s / http_body_timeout_s: how long an HTTP client may take to
            send a request's headers, then its body, before the connection is closed.
        http_max_connections: open HTTP connections at most (more are answered 503).
        http_max_sessions / http_session_idle_s: streamable HTTP sessions at most, and
            how long one may stay idle before it is closed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    db: Path | str | None = None
    db_pool_size: int = Field(default=10, ge=1, le=500)
    db_pool_timeout_s: float = Field(default=10.0, gt=0, le=600)
    db_connect_timeout_s: float = Field(default=5.0, gt=0, le=600)
    db_statement_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    project: str | None = Field(default=None, min_length=1, max_length=500)
    tools: ToolSet = "all"
    log_level: LogLevel = "info"
    token: SecretStr | None = None
    allow_commands: frozenset[str] = frozenset()
    store_prompts: bool = False
    provider_base_url: str | None = None
    provider_model: str | None = None
    provider_api_key: SecretStr | None = None
    host: str = Field(default="127.0.0.1", min_length=1, max_length=253)
    allowed_hosts: frozenset[str] = frozenset()
    port: int = Field(default=8000, ge=0, le=65535)
    transport: Transport = "stdio"
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    command_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    regex_timeout_s: float = Field(default=0.5, gt=0, le=10)
    approval_ttl_s: float = Field(default=3600.0, gt=0, le=30 * 86400)
    agent_approvals: bool = False
    price_input_per_1k: float | None = Field(default=None, ge=0, le=1e6, allow_inf_nan=False)
    price_output_per_1k: float | None = Field(default=None, ge=0, le=1e6, allow_inf_nan=False)
    evaluation_budget_s: float = Field(default=5.0, gt=0, le=600)
    hook_min_grade: Literal["A", "B", "C", "D", "F"] = "C"
    hook_block_prompts: bool = False
    eval_workers: int = Field(default=8, ge=1, le=256)
    eval_session_share: float = Field(default=0.5, gt=0, le=1)
    http_header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    http_body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    http_max_connections: int = Field(default=200, ge=1, le=100_000)
    http_max_sessions: int = Field(default=100, ge=1, le=100_000)
    http_session_idle_s: float = Field(default=1800.0, gt=0, le=7 * 86400)
    # The environment the server started with, handed to the command evaluator (which
    # passes on only PATH-like basics and the variables a spec names); never logged.
    command_environ: dict[str, str] = Field(default_factory=dict, repr=False, exclude=True)

    @field_validator("command_environ", mode="after")
    @classmethod
    def _without_own_settings(cls, value: dict[str, str]) -> dict[str, str]:
        return command_environment(value)

    @field_validator("db", mode="before")
    @classmethod
    def _db_path_or_url(cls, value: Any) -> Any:
        # A postgresql:// URL stays a string (a Path would fold its "//"); the rest is a file.
        if isinstance(value, str) and not value.startswith(("postgresql://", "postgres://")):
            return Path(value)
        return value

    @field_validator("allow_commands", "allowed_hosts", mode="before")
    @classmethod
    def _split_commands(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("store_prompts", "hook_block_prompts", "agent_approvals", mode="before")
    @classmethod
    def _parse_bool(cls, value: Any) -> Any:
        if isinstance(value, str):
            low = value.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("use on/off, true/false, 1/0 or yes/no")
        return value

    @field_validator("hook_min_grade", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("tools", "log_level", "transport", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def project_key(self) -> str:
        """The setting, else the working directory (a session may use its host's root instead)."""
        return self.project or str(Path.cwd().resolve())

    @property
    def loopback(self) -> bool:
        """True when ``host`` binds only this machine."""
        return is_loopback(self.host)

    @classmethod
    def load(
        cls, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Build the settings from CLI flags over environment variables over defaults.

        Args:
            flags: values given on the command line (``None`` values are ignored).
            env: the environment to read; ``os.environ`` when omitted.

        Raises:
            SettingsError: a value is not allowed; the message names the variable or flag.
        """
        source = os.environ if env is None else env
        raw: dict[str, Any] = {
            name: source[var] for name, var in ENV_VARS.items() if source.get(var, "") != ""
        }
        raw.update(_secrets_from_files(source))
        raw.update({k: v for k, v in (flags or {}).items() if v is not None})
        raw.setdefault("command_environ", dict(source))
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            given = {k for k, v in (flags or {}).items() if v is not None}
            raise SettingsError(_describe(exc, given)) from exc


def _secrets_from_files(source: Mapping[str, str]) -> dict[str, str]:
    """The secrets given as ``LOOPCORE_*_FILE`` paths, read (surrounding whitespace stripped).

    Raises:
        SettingsError: both a variable and its file are set, or the file cannot be read or is empty.
    """
    found: dict[str, str] = {}
    for name, file_var in SECRET_FILES.items():
        path = source.get(file_var, "")
        if not path:
            continue
        if source.get(ENV_VARS[name], ""):
            raise SettingsError(f"{file_var}: set {ENV_VARS[name]} or {file_var}, not both")
        try:
            with open(path, "rb") as handle:
                value = handle.read(_SECRET_FILE_BYTES).decode("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{file_var}: cannot read {path!r}: {exc}") from None
        if not value:
            raise SettingsError(f"{file_var}: the file {path!r} is empty")
        found[name] = value
    return found


def forget_secrets(environ: MutableMapping[str, str]) -> None:
    """Remove the secret variables from ``environ`` once the settings hold them.

    The server's children (``command`` evaluators, their tests) then cannot inherit
    them. ``/proc/<pid>/environ`` still shows the block the process started with, which
    no edit of ``os.environ`` changes: give secrets as ``*_FILE`` to keep them out of it.
    """
    for name in SECRET_FILES:
        environ.pop(ENV_VARS[name], None)


def command_environment(source: Mapping[str, str]) -> dict[str, str]:
    """The environment a ``command`` evaluator may draw on: everything but loopcore's own settings.

    A spec names the variables it wants passed through (``"env": [...]``); without
    this filter it could name ``LOOPCORE_PROVIDER_API_KEY`` or ``LOOPCORE_TOKEN``
    and read the server's secrets back from the command's output.
    """
    return {k: v for k, v in source.items() if not k.upper().startswith("LOOPCORE_")}


def _describe(exc: ValidationError, flag_names: set[str]) -> str:
    """Name each bad setting the way the user wrote it (flag or variable)."""
    parts = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "?"
        where = f"--{name.replace('_', '-')}" if name in flag_names else ENV_VARS.get(name, name)
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
