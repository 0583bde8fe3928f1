"""What compiling a pattern will cost, read with the ``regex`` engine's own parser.

The engine expands bounded repeats when it compiles: ``(?:a{1000}){1000}`` becomes
a million steps, hundreds of MiB, before any search runs. So the compiled size
is estimated first, on the tree the engine's parser builds from the pattern:
verbose mode (``(?x)``, where whitespace and ``#`` comments are not part of the
pattern), scoped and global inline flags, ``(?#...)`` comments and escapes are
read exactly as the engine reads them, because it is the engine reading them.
A textual scan would see ``(?x)(?:(?:a{1000}) {1000}) {2}`` as three cheap
pieces; the engine sees two nested repeats of a repeat (two million steps).

The parser is ``regex``'s private ``_regex_core`` (stable across releases for
a decade); if it is ever missing or changes shape, every pattern is refused with
a message saying so, rather than compiled unchecked.
"""

from __future__ import annotations

from typing import Any

import regex

__all__ = ["MAX_REPEAT", "MAX_STEPS", "cost_problem", "steps"]

MAX_REPEAT = 1000
MAX_STEPS = 50_000
_CHILDREN = ("subpattern", "items", "branches", "yes_item", "no_item")
_REPEATS = ("GreedyRepeat", "LazyRepeat", "PossessiveRepeat")


class _TooCostly(Exception):
    pass


def _parse(source: str, flags: int) -> Any:
    """The engine's parse tree of ``source`` (as ``regex.compile`` builds it)."""
    import importlib

    core: Any = importlib.import_module("regex._regex_core")  # private: no type stubs

    global_flags = flags
    while True:
        text = core.Source(source)
        info = core.Info(global_flags, text.char_type, {})
        text.ignore_space = bool(info.flags & regex.VERBOSE)
        text.use_unicode_space(bool(info.flags & regex.VERSION1))
        try:
            return core._parse_pattern(text, info)
        except core._UnscopedFlagSet:
            global_flags = info.global_flags  # a global flag met mid-pattern: parse again


def _cost(node: Any) -> int:
    """Steps the compiled node will take: repeats multiply, everything else adds."""
    kind = type(node).__name__
    if kind in _REPEATS:
        bound = node.max_count if node.max_count is not None else node.min_count
        count = max(int(bound), int(node.min_count), 1)
        if count > MAX_REPEAT:
            raise _TooCostly(f"a repeat count of {count} is above the limit of {MAX_REPEAT}")
        total = _cost(node.subpattern) * count
    else:
        characters = getattr(node, "characters", None)
        total = len(characters) if isinstance(characters, list | tuple | str) else 1
        for name in _CHILDREN:
            child = getattr(node, name, None)
            if isinstance(child, list):
                total += sum(_cost(c) for c in child)
            elif child is not None and hasattr(child, "__dict__"):
                total += _cost(child)
    if total > MAX_STEPS:
        raise _TooCostly(f"its bounded repeats expand to more than {MAX_STEPS} steps")
    return total


def steps(source: str, flags: int = 0) -> int:
    """The estimated compiled size of a pattern already found acceptable (at least 1)."""
    try:
        return max(1, _cost(_parse(source, flags)))
    except (_TooCostly, RecursionError, regex.error, ImportError, AttributeError, TypeError):
        return MAX_STEPS


def cost_problem(source: str, flags: int = 0) -> str | None:
    """Why ``source`` is too costly to compile with ``flags``, or None when it is not.

    Each repeat count may be at most 1000 and the expanded size at most 50,000
    steps. A pattern the engine cannot parse is not judged here (compiling it
    reports the syntax error).
    """
    try:
        tree = _parse(source, flags)
    except regex.error:
        return None
    except RecursionError:
        return "it is nested too deeply"
    except (ImportError, AttributeError, TypeError) as exc:  # the private parser changed
        return f"the regex engine's parser could not be used to check it ({type(exc).__name__})"
    try:
        _cost(tree)
    except _TooCostly as exc:
        return str(exc)
    except RecursionError:
        return "it is nested too deeply"
    return None
