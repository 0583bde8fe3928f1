"""JSON with comments and trailing commas (VS Code's ``mcp.json``, JSONC), edited in place.

``loads`` reads such a file; ``set_member`` and ``remove_member`` change one object member
by rewriting only that member's text, so every comment, blank line and the rest of the
formatting stay as the user wrote them. The parser records where each value starts and ends;
it accepts what VS Code's JSONC parser does: ``//`` and ``/* */`` comments, trailing commas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from json import decoder
from typing import Any

__all__ = ["JsoncError", "loads", "remove_member", "set_member"]

_LITERAL = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")
_WS = " \t\r\n\ufeff"
# The json module's own string scanner (C when available); typeshed does not declare it.
_scanstring: Callable[[str, int], tuple[str, int]] = decoder.scanstring  # type: ignore[attr-defined]


class JsoncError(ValueError):
    """The text is not JSON even with comments and trailing commas allowed."""


@dataclass
class _Node:
    start: int
    end: int
    value: Any
    members: dict[str, tuple[int, _Node]] = field(default_factory=dict)  # key -> (key start, value)


class _Parser:
    def __init__(self, text: str) -> None:
        self.t = text
        self.i = 0

    def fail(self, what: str) -> JsoncError:
        line = self.t.count("\n", 0, self.i) + 1
        return JsoncError(f"{what} at line {line} (offset {self.i})")

    def ws(self) -> None:
        t, n = self.t, len(self.t)
        while self.i < n:
            if t[self.i] in _WS:
                self.i += 1
            elif t.startswith("//", self.i):
                end = t.find("\n", self.i)
                self.i = n if end < 0 else end + 1
            elif t.startswith("/*", self.i):
                end = t.find("*/", self.i + 2)
                if end < 0:
                    raise self.fail("unterminated comment")
                self.i = end + 2
            else:
                return

    def peek(self) -> str:
        self.ws()
        return self.t[self.i] if self.i < len(self.t) else ""

    def string(self) -> str:
        try:
            value, self.i = _scanstring(self.t, self.i + 1)
        except json.JSONDecodeError as exc:
            raise self.fail(f"bad string ({exc.msg})") from exc
        return value

    def value(self) -> _Node:
        c = self.peek()
        start = self.i
        if c == "{":
            return self.obj()
        if c == "[":
            return self.arr()
        if c == '"':
            text = self.string()
            return _Node(start, self.i, text)
        m = _LITERAL.match(self.t, self.i)
        if not m:
            raise self.fail("expected a value")
        self.i = m.end()
        return _Node(start, self.i, json.loads(m.group()))

    def _items(self, close: str, item: Any) -> None:
        self.i += 1
        while self.peek() != close:
            item()
            c = self.peek()
            if c == ",":
                self.i += 1
            elif c != close:
                raise self.fail(f"expected ',' or '{close}'")
        self.i += 1

    def obj(self) -> _Node:
        node = _Node(self.i, 0, {})

        def member() -> None:
            if self.peek() != '"':
                raise self.fail("expected a member name")
            key_start = self.i
            key = self.string()
            if self.peek() != ":":
                raise self.fail("expected ':'")
            self.i += 1
            child = self.value()
            node.members[key] = (key_start, child)
            node.value[key] = child.value

        self._items("}", member)
        node.end = self.i
        return node

    def arr(self) -> _Node:
        node = _Node(self.i, 0, [])
        self._items("]", lambda: node.value.append(self.value().value))
        node.end = self.i
        return node


def _parse(text: str) -> _Node:
    p = _Parser(text)
    node = p.value()
    if p.peek():
        raise p.fail("unexpected text after the value")
    return node


def loads(text: str) -> Any:
    """Parse JSON that may hold comments and trailing commas.

    Raises:
        JsoncError: it does not parse even so.
    """
    return _parse(text).value


def _line_indent(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    line = text[start:pos]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _unit(text: str, obj: _Node) -> str:
    """The indentation step the file uses (from the object's first member), else 2 spaces."""
    outer = _line_indent(text, obj.start)
    for key_start, _ in obj.members.values():
        inner = _line_indent(text, key_start)
        if len(inner) > len(outer) and inner.startswith(outer):
            return inner[len(outer) :]
    return "  "


def _dump(value: Any, indent: str, unit: str) -> str:
    return json.dumps(value, indent=unit, ensure_ascii=False).replace("\n", "\n" + indent)


def _insert(text: str, obj: _Node, key: str, value: Any) -> str:
    """``text`` with ``"key": value`` as the first member of ``obj``."""
    unit = _unit(text, obj)
    outer = _line_indent(text, obj.start)
    inner = outer + unit
    member = f"{json.dumps(key)}: {_dump(value, inner, unit)}"
    at = obj.start + 1
    if obj.members:
        return f"{text[:at]}\n{inner}{member},{text[at:]}"
    return f"{text[:at]}\n{inner}{member}\n{outer}{text[obj.end - 1 :]}"


def set_member(text: str, path: tuple[str, ...], value: Any) -> str:
    """``text`` with the member at ``path`` (object keys from the root) set to ``value``.

    Missing objects along the path are created; only the changed member's text is rewritten.

    Raises:
        JsoncError: the text does not parse, or something on the path is not an object.
    """
    node = _parse(text)
    for depth, key in enumerate(path):
        if not isinstance(node.value, dict):
            raise JsoncError(f"{'.'.join(path[:depth]) or 'the file'} is not an object")
        if key not in node.members:
            nested: Any = value
            for outer_key in reversed(path[depth + 1 :]):
                nested = {outer_key: nested}
            return _insert(text, node, key, nested)
        key_start, child = node.members[key]
        if depth == len(path) - 1:
            indent = _line_indent(text, key_start)
            new = _dump(value, indent, _unit(text, node))
            return text[: child.start] + new + text[child.end :]
        node = child
    raise JsoncError("empty path")


def remove_member(text: str, path: tuple[str, ...]) -> str:
    """``text`` without the member at ``path`` (unchanged when there is none).

    Raises:
        JsoncError: the text does not parse.
    """
    node = _parse(text)
    for key in path[:-1]:
        if not isinstance(node.value, dict) or key not in node.members:
            return text
        node = node.members[key][1]
    if not isinstance(node.value, dict) or path[-1] not in node.members:
        return text
    keys = list(node.members)
    index = keys.index(path[-1])
    key_start, child = node.members[path[-1]]
    after = child.end
    rest = text[after:].lstrip(" \t")
    line_start = text.rfind("\n", 0, key_start) + 1
    start = line_start if not text[line_start:key_start].strip() else key_start
    if rest.startswith(","):  # drop the member, its comma and the end of its line
        end = after + (len(text[after:]) - len(rest)) + 1
        if text[end:].lstrip(" \t").startswith("\n"):
            end = text.index("\n", end) + 1
        return text[:start] + text[end:]
    if index > 0:  # the last member: drop the comma before it instead
        prev_end = node.members[keys[index - 1]][1].end
        return text[:prev_end] + text[after:]
    return text[: node.start + 1] + text[node.end - 1 :]
