"""Time-limited regular expressions shared by the pattern-based evaluators.

User-supplied patterns run on the ``regex`` package with a per-call
``timeout``, so a catastrophic pattern such as ``(a+)+$`` costs at most that
long and is reported as a deficiency instead of hanging the process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import regex
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = [
    "MAX_PATTERN_CHARS",
    "FlagName",
    "PatternItem",
    "PatternSpec",
    "TimedPattern",
    "compile_all",
    "flags_value",
    "repeat_problem",
]

MAX_PATTERN_CHARS = 2000
# Compiling "(?:x{65535}){65535}" takes the regex engine minutes and gigabytes: bounded
# repeats are expanded at compile time, so their expanded size is estimated and capped first.
MAX_REPEAT = 1000
MAX_REPEAT_PRODUCT = 50_000
_BRACES = re.compile(r"\{(\d*)(?:,(\d*))?\}")

FlagName = Literal["ignorecase", "multiline", "dotall"]

_FLAG_BITS: dict[str, int] = {
    "ignorecase": regex.IGNORECASE,
    "multiline": regex.MULTILINE,
    "dotall": regex.DOTALL,
}


def flags_value(names: Iterable[str]) -> int:
    """The ``regex`` flag bits for the given flag names."""
    bits = 0
    for name in names:
        bits |= _FLAG_BITS[name]
    return bits


def _skip_class(source: str, i: int) -> int:
    """The index just past the character class that opens at ``source[i] == "["``."""
    i += 1
    if i < len(source) and source[i] == "^":
        i += 1
    if i < len(source) and source[i] == "]":
        i += 1
    while i < len(source) and source[i] != "]":
        i += 2 if source[i] == "\\" else 1
    return i + 1


def repeat_problem(source: str) -> str | None:
    """Why ``source``'s bounded repeats are too costly to compile, or None when they are not.

    A conservative estimate of the compiled size: every atom costs 1, ``{m,n}``
    multiplies the atom (or group) before it by max(m, n), and a group costs the
    sum of its atoms. Each count may be at most 1000 and the estimate at most 50,000.
    """
    sums: list[int] = [0]  # the cost so far of each open group
    last = 0  # the cost of the atom just before the current position
    i = 0
    while i < len(source):
        char = source[i]
        braces = _BRACES.match(source, i) if char == "{" else None
        if braces is not None and (braces.group(1) or braces.group(2)):
            count = max(int(g) for g in braces.groups() if g)
            if count > MAX_REPEAT:
                return f"a repeat count of {count} is above the limit of {MAX_REPEAT}"
            sums[-1] += last * (max(count, 1) - 1)
            last *= max(count, 1)
            i = braces.end()
        elif char == "(":
            sums.append(0)
            last, i = 0, i + 1
        elif char == ")" and len(sums) > 1:
            last = max(sums.pop(), 1)
            sums[-1] += last
            i += 1
        else:
            step = 2 if char == "\\" else _skip_class(source, i) - i if char == "[" else 1
            last, i = 1, i + step
            sums[-1] += 1
        if sums[-1] > MAX_REPEAT_PRODUCT:
            return f"its bounded repeats expand to more than {MAX_REPEAT_PRODUCT} steps"
    return None


class PatternSpec(BaseModel):
    """One pattern: its source, optional flags, and an optional deficiency text.

    A bare string in a spec is read as ``{"pattern": <string>}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(min_length=1, max_length=MAX_PATTERN_CHARS)
    flags: list[FlagName] = Field(default_factory=list, max_length=3)
    message: str | None = Field(default=None, max_length=500)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        problem = repeat_problem(value)
        if problem is not None:
            raise ValueError(f"pattern {value[:80]!r} is too costly to compile: {problem}")
        try:
            regex.compile(value)
        except regex.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return value


def _from_str(value: Any) -> Any:
    return {"pattern": value} if isinstance(value, str) else value


PatternItem = Annotated[PatternSpec, BeforeValidator(_from_str)]


@dataclass(frozen=True, kw_only=True, slots=True)
class TimedPattern:
    """A compiled pattern whose every search is time-limited.

    Attributes:
        source: the pattern as written.
        compiled: the compiled ``regex`` pattern.
        timeout_s: the limit for one search or one scan of matches.
        message: the deficiency text to use instead of a generic one.
    """

    source: str
    compiled: regex.Pattern[str]
    timeout_s: float
    message: str | None = None

    def search(self, text: str) -> tuple[regex.Match[str] | None, bool]:
        """First match in ``text``, and whether the time limit cut the search short."""
        try:
            return self.compiled.search(text, timeout=self.timeout_s), False
        except TimeoutError:
            return None, True

    def spans(self, text: str, limit: int) -> tuple[list[tuple[int, int]], bool]:
        """Up to ``limit`` match spans, and whether the time limit cut the scan short."""
        found: list[tuple[int, int]] = []
        try:
            for match in self.compiled.finditer(text, timeout=self.timeout_s):
                found.append(match.span())
                if len(found) >= limit:
                    break
        except TimeoutError:
            return found, True
        return found, False

    def timeout_text(self) -> str:
        """The deficiency for a search that ran out of time."""
        return f"pattern {self.source!r} timed out after {self.timeout_s:g} s"


def compile_all(
    specs: Iterable[PatternSpec], timeout_s: float, extra_flags: Iterable[str] = ()
) -> tuple[TimedPattern, ...]:
    """Compile validated pattern specs, adding ``extra_flags`` to each one's own."""
    shared = flags_value(extra_flags)
    return tuple(
        TimedPattern(
            source=spec.pattern,
            compiled=regex.compile(spec.pattern, shared | flags_value(spec.flags)),
            timeout_s=timeout_s,
            message=spec.message,
        )
        for spec in specs
    )
