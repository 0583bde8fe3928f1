"""Time-limited regular expressions shared by the pattern-based evaluators.

User-supplied patterns run on the ``regex`` package with a per-call
``timeout`` (the smaller of the pattern's own limit and what is left of the
evaluation's budget), so a catastrophic pattern such as ``(a+)+$`` costs at most
that long and is reported as a deficiency instead of hanging the process.
Before a pattern is compiled its compiled size is estimated (``_regex_cost``);
compiled patterns are shared through a cache bounded by that size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import regex
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from loopcore.errors import InvalidInput
from loopcore.evaluators import _budget
from loopcore.evaluators._cache import WeightedLru
from loopcore.evaluators._regex_cost import MAX_REPEAT, MAX_STEPS, cost_problem, steps

__all__ = [
    "MAX_CACHED_STEPS",
    "MAX_PATTERN_CHARS",
    "MAX_REPEAT",
    "MAX_STEPS",
    "FlagName",
    "PatternItem",
    "PatternSpec",
    "TimedPattern",
    "clear_compiled",
    "compile_all",
    "compiled",
    "flags_value",
    "repeat_problem",
]

MAX_PATTERN_CHARS = 2000
# Compiled patterns kept for reuse, weighed by their estimated compiled size (about 160
# bytes a step when measured): 400,000 steps is some 64 MiB at most, whatever the specs.
MAX_CACHED_STEPS = 400_000
_COMPILED: WeightedLru[tuple[str, int], regex.Pattern[str]] = WeightedLru(MAX_CACHED_STEPS)

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


def repeat_problem(source: str, flags: int = 0) -> str | None:
    """Why ``source``'s bounded repeats are too costly to compile, or None when they are not.

    Read by the engine's own parser (verbose mode and inline flags included): each
    repeat count may be at most 1000 and the expanded size at most 50,000 steps.
    """
    return cost_problem(source, flags)


def compiled(source: str, flags: int = 0) -> regex.Pattern[str]:
    """``source`` compiled with ``flags``, from the size-bounded cache when it is there.

    Patterns are compiled with ``cache_pattern=False``: the engine's own cache keeps
    up to 500 patterns whatever their size, which is the memory this one bounds.

    Raises:
        regex.error: the pattern is not valid.
        MemoryError: compiling it needs more memory than there is.
    """
    key = (source, flags)
    hit = _COMPILED.get(key)
    if hit is not None:
        return hit
    pattern = regex.compile(source, flags, cache_pattern=False)
    _COMPILED.put(key, pattern, steps(source, flags))
    return pattern


def clear_compiled() -> None:
    """Forget every compiled pattern (tests use this to measure a cold build)."""
    _COMPILED.clear()


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
            compiled(value)
        except regex.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        except MemoryError:
            raise ValueError(
                f"pattern {value[:80]!r} needs more memory to compile than the server has"
            ) from None
        return value


def _from_str(value: Any) -> Any:
    return {"pattern": value} if isinstance(value, str) else value


PatternItem = Annotated[PatternSpec, BeforeValidator(_from_str)]


@dataclass(frozen=True, kw_only=True, slots=True)
class TimedPattern:
    """A pattern whose every search is limited in time, alone and within the evaluation's budget.

    The compiled form is not held here but fetched from the size-bounded cache, so
    the evaluators cached by the factory do not pin every pattern they were built with.

    Attributes:
        source: the pattern as written.
        flags: the ``regex`` flag bits it is compiled with.
        timeout_s: the limit for one search or one scan of matches.
        message: the deficiency text to use instead of a generic one.
    """

    source: str
    flags: int
    timeout_s: float
    message: str | None = None

    @property
    def compiled(self) -> regex.Pattern[str]:
        """The compiled pattern (compiled again if the cache dropped it)."""
        return compiled(self.source, self.flags)

    def search(self, text: str) -> tuple[regex.Match[str] | None, bool]:
        """First match in ``text``, and whether the pattern's own time limit cut it short.

        Raises:
            BudgetExceeded: the evaluation's time budget ran out.
        """
        _budget.check()  # before compiling again (a cache miss costs up to ~10 ms)
        pattern = self.compiled
        return _budget.timed(lambda t: pattern.search(text, timeout=t), self.timeout_s)

    def spans(self, text: str, limit: int) -> tuple[list[tuple[int, int]], bool]:
        """Up to ``limit`` match spans, and whether the pattern's own time limit cut the scan short.

        Raises:
            BudgetExceeded: the evaluation's time budget ran out.
        """
        _budget.check()
        pattern = self.compiled
        found: list[tuple[int, int]] = []

        def scan(timeout: float) -> None:
            for match in pattern.finditer(text, timeout=timeout):
                found.append(match.span())
                if len(found) >= limit:
                    break

        _, cut = _budget.timed(scan, self.timeout_s)
        return found, cut

    def timeout_text(self) -> str:
        """The deficiency for a search that ran out of time."""
        return f"pattern {self.source!r} timed out after {self.timeout_s:g} s"


def compile_all(
    specs: Iterable[PatternSpec], timeout_s: float, extra_flags: Iterable[str] = ()
) -> tuple[TimedPattern, ...]:
    """Compile validated pattern specs, adding ``extra_flags`` to each one's own.

    Raises:
        InvalidInput: a pattern needs more memory to compile than there is.
    """
    shared = flags_value(extra_flags)
    patterns = []
    for spec in specs:
        flags = shared | flags_value(spec.flags)
        try:
            compiled(spec.pattern, flags)  # compiled now: a bad pattern fails the build
        except MemoryError:
            raise InvalidInput(
                f"pattern {spec.pattern[:80]!r} needs more memory to compile than the server has"
            ) from None
        patterns.append(
            TimedPattern(
                source=spec.pattern, flags=flags, timeout_s=timeout_s, message=spec.message
            )
        )
    return tuple(patterns)
