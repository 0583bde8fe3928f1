"""One time budget per evaluation, shared by every pattern, part and schema keyword.

``build_evaluator`` wraps the evaluator it returns in ``Budgeted``: its
``evaluate`` opens a budget (a deadline held in a context variable, so it is
private to the thread running the evaluation), and everything that can take
long inside it asks how much time is left: each regex search is limited to
the smaller of its own limit and what remains, and the JSON Schema validator
checks the deadline before every keyword. Past the deadline ``BudgetExceeded``
unwinds the whole evaluation, and ``Budgeted`` answers a "timed out"
deficiency (score 0, not passed). A composite's parts share the budget that
the outermost evaluation opened.

The ``command`` evaluator keeps its own time limit: while its program runs the
budget is paused (``paused``), so a 60 s test run neither is cut by the budget
nor uses up the budget of the parts that follow it.

Running out of memory inside an evaluation is answered as an
``EvaluationError`` with a message, never as a bare tool failure.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from loopcore.clock import monotonic
from loopcore.errors import InvalidInput
from loopcore.evaluators.base import EvalContext, Evaluation, Evaluator

__all__ = [
    "DEFAULT_BUDGET_S",
    "BudgetExceeded",
    "Budgeted",
    "EvaluationError",
    "budget",
    "check",
    "limited",
    "paused",
]

DEFAULT_BUDGET_S = 5.0


class BudgetExceeded(Exception):
    """The evaluation's time budget ran out (caught by ``Budgeted``, never escapes it)."""


class EvaluationError(InvalidInput):
    """An evaluation could not finish for want of memory: the spec or the output asks too much."""


class _Deadline:
    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = monotonic() + seconds


_CURRENT: ContextVar[_Deadline | None] = ContextVar("loopcore_evaluation_budget", default=None)


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Run the block under a budget of ``seconds``; inside another budget, the outer one holds."""
    if _CURRENT.get() is not None:
        yield
        return
    token = _CURRENT.set(_Deadline(seconds))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def remaining() -> float:
    """Seconds left in the current budget (infinite outside one)."""
    deadline = _CURRENT.get()
    return math.inf if deadline is None else deadline.at - monotonic()


def check() -> None:
    """Raise ``BudgetExceeded`` when the current budget has run out."""
    if remaining() <= 0.0:
        raise BudgetExceeded


def limited(timeout_s: float) -> float:
    """The time one step may take: ``timeout_s``, or less when the budget has less left.

    Raises:
        BudgetExceeded: when nothing is left.
    """
    left = remaining()
    if left <= 0.0:
        raise BudgetExceeded
    return min(timeout_s, left)


def exhausted() -> bool:
    """Whether the current budget has run out (a step that timed out asks this)."""
    return remaining() <= 0.0


@contextmanager
def paused() -> Iterator[None]:
    """Stop the clock of the current budget for the block (a command's own limit applies)."""
    deadline = _CURRENT.get()
    started = monotonic()
    try:
        yield
    finally:
        if deadline is not None:
            deadline.at += monotonic() - started


@dataclass(frozen=True, kw_only=True, slots=True)
class Budgeted:
    """An evaluator whose every evaluation runs under one time budget.

    Attributes:
        inner: the evaluator built from the spec.
        budget_s: seconds one evaluation may take, all its parts together.
    """

    inner: Evaluator
    budget_s: float = DEFAULT_BUDGET_S

    @property
    def name(self) -> str:
        """The inner evaluator's spec type."""
        return self.inner.name

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        """Score ``output`` with the inner evaluator, within the budget.

        Raises:
            EvaluationError: the evaluation ran out of memory.
        """
        try:
            with budget(self.budget_s):
                return self.inner.evaluate(output, context)
        except BudgetExceeded:
            return Evaluation.of(
                0.0,
                False,
                [
                    f"the evaluation timed out: its time budget of {self.budget_s:g} s ran out "
                    "before every check had run (simplify the patterns or the schema, or "
                    "shorten the output)"
                ],
                details={"timed_out": True},
            )
        except MemoryError:
            raise EvaluationError(
                "the evaluation ran out of memory; simplify the spec's patterns or schema, "
                "or shorten the output"
            ) from None
