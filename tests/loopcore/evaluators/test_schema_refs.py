"""JSON Schema references stay inside the schema: refused when they leave it, never fetched.

A real HTTP server on 127.0.0.1 serves the document each reference names and
records every request; it must never be asked for anything.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from loopcore.errors import InvalidInput
from loopcore.evaluators import JsonSchemaEvaluator, build_evaluator, validate_spec


class _Recorder(ThreadingHTTPServer):
    hits: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        body = json.dumps({"enum": ["INTERNAL-SECRET"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def remote() -> Iterator[_Recorder]:
    """A schema server on 127.0.0.1 that records the paths it was asked for."""
    server = _Recorder(("127.0.0.1", 0), _Handler)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _base(server: _Recorder) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_absolute_ref_is_refused_at_build_and_not_fetched(remote: _Recorder) -> None:
    """{"$ref": "http://127.0.0.1:PORT/x.json"} is an invalid spec naming the reference."""
    url = f"{_base(remote)}/x.json"
    spec = {"type": "json_schema", "schema": {"$ref": url}}
    with pytest.raises(InvalidInput) as caught:
        build_evaluator(spec).evaluate('"x"')
    assert caught.value.field == "schema"
    assert f"$ref {url!r}" in str(caught.value)
    assert "outside the schema" in str(caught.value)
    assert remote.hits == []


def test_id_base_and_relative_ref_is_refused_and_not_fetched(remote: _Recorder) -> None:
    """A relative $ref that resolves against the root $id to a server URL is refused."""
    schema = {"$id": f"{_base(remote)}/root.json", "properties": {"a": {"$ref": "x.json"}}}
    with pytest.raises(InvalidInput) as caught:
        validate_spec({"type": "json_schema", "schema": schema})
    assert f"resolves to '{_base(remote)}/x.json'" in str(caught.value)
    assert remote.hits == []


def test_ref_inside_a_composite_names_the_part(remote: _Recorder) -> None:
    """In a composite, the error's field is the part's schema."""
    part = {"type": "json_schema", "schema": {"items": {"$dynamicRef": f"{_base(remote)}/d"}}}
    spec = {
        "type": "composite",
        "parts": [{"spec": {"type": "length", "max_words": 9}}, {"spec": part}],
    }
    with pytest.raises(InvalidInput) as caught:
        build_evaluator(spec)
    assert caught.value.field == "parts.1.spec.schema"
    assert remote.hits == []


def test_evaluator_built_directly_refuses_too(remote: _Recorder) -> None:
    """The class itself refuses an outside reference (not only the spec parser)."""
    with pytest.raises(InvalidInput):
        JsonSchemaEvaluator(schema={"$ref": f"{_base(remote)}/x.json"})
    assert remote.hits == []


def test_refs_to_ids_declared_inside_still_resolve(remote: _Recorder) -> None:
    """A $ref to an $id the schema itself declares is local: it validates, nothing is fetched."""
    schema = {
        "$id": f"{_base(remote)}/root.json",
        "type": "array",
        "items": {"$ref": "item.json"},
        "$defs": {"item": {"$id": "item.json", "type": "integer", "minimum": 1}},
    }
    evaluator = build_evaluator({"type": "json_schema", "schema": schema})
    assert evaluator.evaluate("[1, 2]").passed is True
    assert evaluator.evaluate("[0]").deficiencies == ("$[0]: 0 is less than the minimum of 1",)
    assert remote.hits == []


def test_local_defs_and_anchors_still_resolve() -> None:
    """#/$defs/... and #anchor references keep working."""
    schema = {
        "properties": {"a": {"$ref": "#/$defs/a"}, "b": {"$ref": "#bee"}},
        "$defs": {"a": {"type": "string"}, "b": {"$anchor": "bee", "type": "integer"}},
    }
    evaluator = build_evaluator({"type": "json_schema", "schema": schema})
    assert evaluator.evaluate('{"a": "x", "b": 2}').passed is True
    assert evaluator.evaluate('{"a": 1, "b": "y"}').score == pytest.approx(1 / 3)


def test_ref_written_as_data_is_not_a_reference() -> None:
    """A "$ref" key inside const is data, not a reference: the schema builds."""
    schema = {"const": {"$ref": "http://example.invalid/x"}}
    evaluator = build_evaluator({"type": "json_schema", "schema": schema})
    assert evaluator.evaluate('{"$ref": "http://example.invalid/x"}').passed is True
