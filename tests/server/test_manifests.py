"""The ready-made host configs in manifests/: documented shapes, and the server they start."""

from __future__ import annotations

import json
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client, StdioServerParameters

from server.settings import ENV_VARS
from server.tools._common import CORE_TOOLS

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
BIN = Path(sys.executable).parent

# The parts of the MCP registry's server.json schema (2025-12-11,
# static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json) that our file uses,
# restated here so the test runs offline: required fields, the name pattern, the 100-character
# description, packages (no unknown keys, a pinned version), stdio transport, arguments and
# environment variables.
_INPUT = {
    "type": "object",
    "properties": {
        "description": {"type": "string"},
        "isRequired": {"type": "boolean"},
        "format": {"enum": ["string", "number", "boolean", "filepath"]},
        "value": {"type": "string"},
        "isSecret": {"type": "boolean"},
        "default": {"type": "string"},
        "placeholder": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "string"}},
    },
}
REGISTRY_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["name", "description", "version"],
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "name": {
            "type": "string",
            "pattern": "^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$",
            "minLength": 3,
            "maxLength": 200,
        },
        "title": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"type": "string", "minLength": 1, "maxLength": 100},
        "version": {"type": "string", "maxLength": 255, "not": {"const": "latest"}},
        "packages": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["registryType", "identifier", "transport"],
                "properties": {
                    "registryType": {"type": "string"},
                    "registryBaseUrl": {"type": "string", "format": "uri"},
                    "identifier": {"type": "string"},
                    "version": {"type": "string", "minLength": 1, "not": {"const": "latest"}},
                    "fileSha256": {"type": "string", "pattern": "^[a-f0-9]{64}$"},
                    "runtimeHint": {"type": "string"},
                    "transport": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {"type": {"enum": ["stdio"]}},
                    },
                    "runtimeArguments": {"type": "array"},
                    "packageArguments": {
                        "type": "array",
                        "items": {
                            "allOf": [
                                _INPUT,
                                {
                                    "required": ["type"],
                                    "properties": {"type": {"enum": ["positional", "named"]}},
                                    "anyOf": [
                                        {"required": ["value"]},
                                        {"required": ["valueHint"]},
                                        {"required": ["name"]},
                                    ],
                                },
                            ]
                        },
                    },
                    "environmentVariables": {
                        "type": "array",
                        "items": {"allOf": [_INPUT, {"required": ["name"]}]},
                    },
                },
            },
        },
    },
}


def _json(name: str) -> dict[str, Any]:
    data = json.loads((MANIFESTS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _claude_code_line() -> list[str]:
    text = (MANIFESTS / "claude-code.md").read_text(encoding="utf-8")
    (line,) = [ln for ln in text.splitlines() if ln.startswith("claude mcp add ")]
    return shlex.split(line, posix=True)


def _pyproject() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    return project


@pytest.mark.parametrize("name", ["claude_desktop_config.json", "cursor.mcp.json"])
def test_mcp_servers_manifests_have_the_documented_shape(name: str) -> None:
    """Claude Desktop and Cursor: ``mcpServers.loopcore`` with command, args and env."""
    data = _json(name)
    assert list(data) == ["mcpServers"]
    assert data["mcpServers"]["loopcore"] == {"command": "loopcore", "args": ["serve"], "env": {}}


def test_vscode_manifest_uses_servers_and_stdio_type() -> None:
    """VS Code: top-level ``servers`` and a required ``"type": "stdio"``."""
    entry = _json("vscode.mcp.json")["servers"]["loopcore"]
    assert entry == {"type": "stdio", "command": "loopcore", "args": ["serve"], "env": {}}


def test_claude_code_line_puts_env_after_the_name() -> None:
    """``claude mcp add loopcore -e K=V -- <loopcore> serve``: ``-e`` after the server name."""
    argv = _claude_code_line()
    assert argv[:4] == ["claude", "mcp", "add", "loopcore"]
    sep = argv.index("--")
    assert argv[4] == "-e"
    assert argv[5].startswith("LOOPCORE_DB=")
    assert argv[sep + 2 :] == ["serve"]
    assert argv[sep + 1] == "$(command -v loopcore)"  # the shell substitutes the absolute path


def test_registry_server_json_matches_the_registry_schema() -> None:
    """server.json validates against the registry's schema (the parts restated above)."""
    data = _json("server.json")
    jsonschema.validate(data, REGISTRY_SCHEMA)
    assert data["$schema"].endswith("/schemas/2025-12-11/server.schema.json")
    assert data["name"].startswith("io.github.")


def test_registry_server_json_agrees_with_the_package() -> None:
    """Package name and version match pyproject; every variable is a real setting."""
    data, project = _json("server.json"), _pyproject()
    (package,) = data["packages"]
    assert (package["registryType"], package["identifier"]) == ("pypi", project["name"])
    assert data["version"] == package["version"] == project["version"]
    assert project["scripts"][package["identifier"]] == "server.cli:main"
    names = {v["name"] for v in package["environmentVariables"]}
    assert names <= set(ENV_VARS.values())
    assert [a["value"] for a in package["packageArguments"]] == ["serve"]
    (tools,) = [v for v in package["environmentVariables"] if v["name"] == "LOOPCORE_TOOLS"]
    counts = {8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}
    assert f"core ({counts[len(CORE_TOOLS)]} tools" in tools["description"]


def _launches() -> list[tuple[str, str, list[str]]]:
    """(manifest, command, args) of every manifest that names a command."""
    out = [
        (name, entry["command"], entry["args"])
        for name, key in [
            ("claude_desktop_config.json", "mcpServers"),
            ("cursor.mcp.json", "mcpServers"),
            ("vscode.mcp.json", "servers"),
        ]
        for entry in [_json(name)[key]["loopcore"]]
    ]
    argv = _claude_code_line()
    sep = argv.index("--")
    out.append(
        ("claude-code.md", argv[sep + 1].removeprefix("$(command -v ")[:-1], argv[sep + 2 :])
    )
    (package,) = _json("server.json")["packages"]
    out.append(
        ("server.json", package["identifier"], [a["value"] for a in package["packageArguments"]])
    )
    return out


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize(("manifest", "command", "args"), _launches())
async def test_manifest_command_starts_the_server(
    manifest: str, command: str, args: list[str], tmp_path: Path
) -> None:
    """The command a manifest names (this venv's copy) starts a server that initializes."""
    params = StdioServerParameters(
        command=str(BIN / command),
        args=args,
        env={"LOOPCORE_DB": str(tmp_path / "lc.db"), "HOME": str(tmp_path)},
        cwd=tmp_path,
    )
    async with Client(params, mode="legacy") as client:
        assert client.server_info is not None
        assert client.server_info.name == "loopcore"
        tools = (await client.list_tools()).tools
    assert {"verify_output", "plan_create"} <= {t.name for t in tools}


REGISTRY_SCHEMAS = REPO / "tests" / "registry"  # vendored: the network is closed in CI


def test_server_json_validates_against_the_registry_schema_it_declares() -> None:
    """server.json against the vendored registry schema of the version its $schema names."""
    manifest = json.loads((MANIFESTS / "server.json").read_text())
    declared = manifest["$schema"]
    version = declared.split("/schemas/")[1].split("/")[0]
    vendored = REGISTRY_SCHEMAS / f"server.schema.{version}.json"
    assert vendored.is_file(), f"vendor the registry schema {declared} as {vendored}"
    schema = json.loads(vendored.read_text())
    assert schema["$id"] == declared
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    assert [e.message for e in validator.iter_errors(manifest)] == []
    too_long = {**manifest, "description": "x" * 101}
    assert not validator.is_valid(too_long)
    assert not validator.is_valid({**manifest, "name": "no-slash"})


def test_readme_carries_the_mcp_name_the_registry_checks() -> None:
    """The README (the package's PyPI description) has `mcp-name: <server.json name>`."""
    name = json.loads((MANIFESTS / "server.json").read_text())["name"]
    readme = (REPO / "README.md").read_text()
    assert f"<!-- mcp-name: {name} -->" in readme


def test_the_claude_plugin_matches_the_package() -> None:
    """The plugin's name and version are the package's; its MCP server runs `loopcore serve`."""
    plugin = MANIFESTS / "claude-plugin"
    meta = json.loads((plugin / ".claude-plugin" / "plugin.json").read_text())
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert (meta["name"], meta["version"]) == ("loopcore", version)
    servers = json.loads((plugin / ".mcp.json").read_text())["mcpServers"]
    assert servers["loopcore"] == {"command": "loopcore", "args": ["serve"]}
    hooks = json.loads((plugin / "hooks" / "hooks.json").read_text())["hooks"]
    commands = {h["command"] for groups in hooks.values() for g in groups for h in g["hooks"]}
    assert commands == {"loopcore hook claude-code"}
