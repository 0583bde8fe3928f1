"""Small thread-safe LRU maps: built evaluators (by count) and compiled patterns (by size)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["LruCache", "WeightedLru"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most ``maxsize`` entries; a hit makes its entry the most recently used.

    Tools run in worker threads, so every operation holds one lock (each is a
    dict operation or two, so the lock is never held for long).
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value stored under ``key`` (now the most recent), or None."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key``, dropping the least recently used beyond ``maxsize``."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class WeightedLru(Generic[K, V]):
    """Entries whose weights sum to at most ``capacity``; the least recently used go first.

    An entry heavier than the whole capacity is not kept at all. Thread-safe like ``LruCache``.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.weight = 0
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value stored under ``key`` (now the most recent), or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: K, value: V, weight: int) -> None:
        """Store ``value``, dropping the least recently used until the weights fit."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.weight -= old[1]
            if weight > self.capacity:
                return
            self._items[key] = (value, weight)
            self.weight += weight
            while self.weight > self.capacity:
                _, (_, dropped) = self._items.popitem(last=False)
                self.weight -= dropped

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._items.clear()
            self.weight = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
