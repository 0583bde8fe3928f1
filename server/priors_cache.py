"""The learned priors, held in memory per store and refreshed cheaply.

Building ``Priors`` reads every statistic row (7-37 ms for 60 (task type, model)
keys on the 2-core dev box), too much for every ``loop_step``. So each open store
gets one ``PriorsCache``: loaded on first use, folded forward in memory after each
observation recorded through it (``Priors.observe``, no reload), and reloaded
from the store when older than ``ttl_s``, so that loops recorded elsewhere (by
``loop_end``, or by a second editor on the same database) show up too. A caller
that must see every loop recorded so far (``suggest_config``) asks for ``fresh``.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable

from loopcore.loops.priors import Priors
from loopcore.store import Store
from loopcore.store.observations import LoopObservation

__all__ = ["DEFAULT_TTL_S", "PriorsCache", "priors_for"]

DEFAULT_TTL_S = 30.0


class PriorsCache:
    """The priors of one store.

    Args:
        store: where observations are recorded and statistics loaded from.
        ttl_s: reload from the store when the cached priors are older than this.
        clock: monotonic seconds (tests pass a fixed clock).
    """

    def __init__(
        self,
        store: Store,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._priors: Priors | None = None
        self._loaded_at = 0.0
        self.loads = 0

    def get(self, *, fresh: bool = False) -> Priors:
        """The priors, reloaded from the store when missing, stale or ``fresh``. Blocking."""
        with self._lock:
            now = self._clock()
            if fresh or self._priors is None or now - self._loaded_at >= self._ttl_s:
                self._priors = Priors.from_stats(*self._store.load_prior_stats())
                self._loaded_at = now
                self.loads += 1
            return self._priors

    def record(self, obs: LoopObservation) -> None:
        """Record a finished loop in the store, then fold it into the cached priors.

        Raises:
            StoreError: the store could not record it (the cache is left as it was).
        """
        self._store.record_observation(obs)
        with self._lock:
            if self._priors is not None:
                self._priors = self._priors.observe(obs)

    def invalidate(self) -> None:
        """Drop the cached priors; the next ``get`` reloads them."""
        with self._lock:
            self._priors = None


_CACHES: weakref.WeakKeyDictionary[Store, PriorsCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def priors_for(store: Store) -> PriorsCache:
    """The one cache of ``store`` (created on first use, dropped with the store)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(store)
        if cache is None:
            cache = PriorsCache(store)
            _CACHES[store] = cache
        return cache
