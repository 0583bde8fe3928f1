"""JSONC: parsed with comments and trailing commas, edited one member at a time."""

from __future__ import annotations

import json

import pytest

from server.cli.jsonc import JsoncError, loads, remove_member, set_member

TEXT = """\
// top comment
{
    "servers": {
        /* keep me */
        "memory": {"url": "http://x//y", "args": [1, 2,],},
        "other": true,
    },
}
"""


def test_loads_reads_comments_trailing_commas_and_slashes_in_strings() -> None:
    """Comments are skipped; '//' inside a string stays; trailing commas are allowed."""
    assert loads(TEXT) == {
        "servers": {"memory": {"url": "http://x//y", "args": [1, 2]}, "other": True}
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{/* never closed", "unterminated comment"),
        ('{"a" 1}', "expected ':'"),
        ('{"a": 1} extra', "unexpected text"),
        ('{"a": nope}', "expected a value"),
        ("{a: 1}", "expected a member name"),
    ],
)
def test_bad_text_is_refused_with_where(text: str, message: str) -> None:
    """Malformed text raises JsoncError naming what and where."""
    with pytest.raises(JsoncError, match=message):
        loads(text)


def test_set_member_replaces_only_that_member() -> None:
    """An existing member's value is rewritten in place; comments and neighbours stay."""
    new = set_member(TEXT, ("servers", "other"), {"command": "loopcore"})
    assert "// top comment" in new and "/* keep me */" in new
    assert '"memory": {"url": "http://x//y", "args": [1, 2,],},' in new
    assert loads(new)["servers"]["other"] == {"command": "loopcore"}


def test_set_member_inserts_with_the_files_indentation() -> None:
    """A new member goes first in its object, indented as the file is."""
    new = set_member(TEXT, ("servers", "loopcore"), {"args": ["serve"]})
    assert '\n        "loopcore": {\n            "args": [' in new
    assert list(loads(new)["servers"]) == ["loopcore", "memory", "other"]


def test_set_member_creates_missing_objects() -> None:
    """A path through a missing key creates the objects on the way."""
    new = set_member('{"a": 1}', ("hooks", "Stop"), [1])
    assert loads(new) == {"hooks": {"Stop": [1]}, "a": 1}
    assert json.loads(set_member("{}", ("x",), 2)) == {"x": 2}


def test_set_member_refuses_a_path_through_a_non_object() -> None:
    """Setting under a list is an error, not a silent overwrite."""
    with pytest.raises(JsoncError, match="not an object"):
        set_member('{"a": [1]}', ("a", "b"), 1)


@pytest.mark.parametrize("key", ["memory", "other"])
def test_remove_member_keeps_the_rest_valid(key: str) -> None:
    """Removing the first or the last member leaves valid JSONC with the comments."""
    new = remove_member(TEXT, ("servers", key))
    assert "// top comment" in new
    remaining = loads(new)["servers"]
    assert key not in remaining and len(remaining) == 1


def test_set_then_remove_gives_back_the_text() -> None:
    """Inserting then removing a member restores the original bytes."""
    added = set_member(TEXT, ("servers", "loopcore"), {"command": "x"})
    assert remove_member(added, ("servers", "loopcore")) == TEXT
    assert remove_member(TEXT, ("servers", "absent")) == TEXT
    assert json.loads(remove_member('{"a": 1}', ("a",))) == {}
