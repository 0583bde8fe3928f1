"""The evaluation pool: where evaluators and commands run, apart from the transports.

Evaluations block (a ``command`` spec can run for minutes, a regex for its time
limit), so they run in worker threads. They must not run on anyio's default
thread limiter: the stdio transport reads and writes through it, and every
synchronous tool runs on it, so 45 slow evaluations used to hold every token and
a 5 ms ``plan_status`` waited 16 s behind them. Here they get a
``CapacityLimiter`` of their own (``eval_workers`` threads), and each session a
share of it (``eval_session_share``): one session's calls past its share wait
for its own earlier ones, never for another session's, and never hold a thread
while they wait.

The session is known from a context variable the server middleware sets for each
request (``server.mcp.handlers``); work started outside a request (tests, the
CLI) only takes the pool's limit. A share lives while a call holds it: an idle
session's share is forgotten, and a new one (all of it free) made when it returns.

Most evaluations are far cheaper than the hop: a composite of a few patterns and a
schema on a short output takes 0.1-0.3 ms, the trip to a worker thread and back
about as much again, and 50 calls in flight made the hops contend (one session's
throughput fell below its serial rate). ``try_inline`` first tries such an
evaluation on the event loop under a deadline of ``INLINE_ATTEMPT_S``
(``loopcore.evaluators.attempt``), and hops only when it needed longer: the
event loop is held at most that long per call (plus, once per new pattern, its
compilation, bounded by the pattern cost limit), so a cheap call behind it still
answers at once. Only what cannot block is tried there: the caller passes work
that runs no program, asks no model and reads no store (``in_memory`` specs).
"""

from __future__ import annotations

import contextvars
import functools
import weakref
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import anyio
import anyio.to_thread

__all__ = ["INLINE_ATTEMPT_S", "INLINE_MAX_CHARS", "EvaluationPool", "session_share"]

# How long an evaluation may hold the event loop before it is sent to the pool instead.
INLINE_ATTEMPT_S = 0.002
# Outputs longer than this are evaluated in the pool at once: an attempt on the event
# loop would likely run out of time after scanning them.
INLINE_MAX_CHARS = 32_000

R = TypeVar("R")

# The current request's session share: set per request by the server middleware.
session_share: contextvars.ContextVar[anyio.CapacityLimiter | None] = contextvars.ContextVar(
    "loopcore_session_share", default=None
)


class EvaluationPool:
    """A bounded set of worker threads for blocking evaluations, shared fairly by sessions.

    Args:
        workers: threads at most, across every session.
        session_share: the fraction of ``workers`` one session may hold (at least one).
    """

    def __init__(self, workers: int, session_share: float) -> None:
        self.workers = workers
        self.per_session = max(1, int(workers * session_share))
        self._limiter: anyio.CapacityLimiter | None = None
        self._shares: weakref.WeakValueDictionary[object, anyio.CapacityLimiter] = (
            weakref.WeakValueDictionary()
        )

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """The pool's limiter (created in the running event loop on first use)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.workers)
        return self._limiter

    def share(self, session: object) -> anyio.CapacityLimiter:
        """The share of the pool of the session identified by ``session`` (a hashable key)."""
        limiter = self._shares.get(session)
        if limiter is None:
            limiter = self._shares[session] = anyio.CapacityLimiter(self.per_session)
        return limiter

    async def run(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run the blocking ``fn`` in a pool thread, within the current session's share."""
        call = functools.partial(fn, *args, **kwargs)
        async with AsyncExitStack() as stack:
            share = session_share.get()
            if share is not None:
                await stack.enter_async_context(share)
            return await anyio.to_thread.run_sync(call, limiter=self.limiter)

    async def try_inline(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run ``fn`` on the event loop under ``INLINE_ATTEMPT_S``; past it, as ``run`` does.

        ``fn`` must not block (no program, no model, no store): only its evaluations are
        cut short, by ``AttemptExpired``, and then run again in a pool thread.
        """
        # Imported here: the pool exists from start-up, evaluations come later (server.runtime).
        from loopcore.evaluators import AttemptExpired, attempt

        try:
            with attempt(INLINE_ATTEMPT_S):
                return fn(*args, **kwargs)
        except AttemptExpired:
            return await self.run(fn, *args, **kwargs)
