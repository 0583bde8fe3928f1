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

The budget is wall-clock time, checked between steps. A regex search runs in C
and cannot be interrupted, so it is given the smaller of its own limit and
what is left of the budget; the ``regex`` engine counts that limit in CPU time
of the whole process (measured: a 0.5 s limit took 1.2-1.5 s of wall time with
the load average at 5 on 2 cores, and two threads searching at once each
stopped at 0.25 s of their own CPU). So what is left of the budget is converted
at the rate of process CPU seconds per wall second seen so far in this
evaluation (``_Deadline.cpu_per_second``). The first search of an evaluation
has no rate yet and may end past the deadline by about the machine's load
factor.

The ``command`` evaluator keeps its own time limit: while its program runs the
budget is paused (``paused``), so a 60 s test run neither is cut by the budget
nor uses up the budget of the parts that follow it.

Running out of memory inside an evaluation is answered as an
``EvaluationError`` with a message, never as a bare tool failure.

``attempt(seconds)`` tries an evaluation under a short deadline instead of its
budget (the server tries cheap specs on its event loop this way, ``server.pool``):
past that deadline the evaluation raises ``AttemptExpired`` instead of answering
"timed out", and the caller runs it again under its own budget. Nothing is lost
but the attempt's time: an evaluation has no side effects, and the patterns it
compiled stay cached.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from loopcore.clock import monotonic
from loopcore.errors import InvalidInput
from loopcore.evaluators.base import EvalContext, Evaluation, Evaluator

__all__ = [
    "DEFAULT_BUDGET_S",
    "AttemptExpired",
    "BudgetExceeded",
    "Budgeted",
    "EvaluationError",
    "attempt",
    "budget",
    "check",
    "paused",
    "timed",
]

DEFAULT_BUDGET_S = 5.0
_RATE_AFTER_S = 0.05  # below this much elapsed time the CPU rate is noise
_MIN_RATE = 0.05
# The rate so far predicts the next search's only roughly on a shared machine: aim short.
_MARGIN = 0.8
T = TypeVar("T")


class BudgetExceeded(Exception):
    """The evaluation's time budget ran out (caught by ``Budgeted``, never escapes it)."""


class AttemptExpired(Exception):
    """An evaluation tried under ``attempt`` needed longer: no answer; run it again without."""


class EvaluationError(InvalidInput):
    """An evaluation could not finish for want of memory: the spec or the output asks too much."""


class _Deadline:
    __slots__ = ("at", "attempt", "cpu_started", "seconds", "started")

    def __init__(self, seconds: float, *, attempt: bool = False) -> None:
        self.seconds = seconds
        self.attempt = attempt
        self.started = monotonic()
        self.at = self.started + seconds
        self.cpu_started = time.process_time()

    def cpu_per_second(self) -> float:
        """Process CPU seconds per wall second so far in this evaluation (1.0 at first).

        The ``regex`` engine counts its time limit in process CPU time; on a busy
        machine a CPU second takes longer than a wall second, so a search is given
        what is left of the budget converted at this rate.
        """
        elapsed = monotonic() - self.started
        if elapsed < _RATE_AFTER_S:
            return 1.0
        rate = (time.process_time() - self.cpu_started) / elapsed
        return min(1.0, max(_MIN_RATE, rate))


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


@contextmanager
def attempt(seconds: float) -> Iterator[None]:
    """Try the evaluations of the block under a deadline of ``seconds`` instead of their budget.

    Raises:
        AttemptExpired: an evaluation needed longer (it gave no answer).
    """
    token = _CURRENT.set(_Deadline(seconds, attempt=True))
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


def timed(run: Callable[[float], T], timeout_s: float) -> tuple[T | None, bool]:
    """Run ``run(timeout)`` (a regex search) within its own limit and the budget.

    Returns:
        ``run``'s result and False; or None and True when the step's own limit
        ``timeout_s`` cut it short.

    Raises:
        BudgetExceeded: the budget ran out before or during the step.
    """
    deadline = _CURRENT.get()
    timeout, by_budget = timeout_s, False
    if deadline is not None:
        left = deadline.at - monotonic()
        if left <= 0.0:
            raise BudgetExceeded
        share = left * deadline.cpu_per_second() * _MARGIN
        if share < timeout_s:
            timeout, by_budget = share, True
    try:
        return run(timeout), False
    except TimeoutError:
        if by_budget or remaining() <= 0.0:
            raise BudgetExceeded from None
        return None, True


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
            AttemptExpired: it was tried under ``attempt`` and needed longer.
        """
        try:
            with budget(self.budget_s):
                return self.inner.evaluate(output, context)
        except BudgetExceeded:
            trial = _CURRENT.get()
            if trial is not None and trial.attempt:
                raise AttemptExpired from None
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
