"""The in-process record cache, with stale-if-error.

One entry per (source, code, include_related). An entry is *fresh* for
``ttl`` seconds and may still be used as *stale* data, when the source
fails, up to ``max_stale`` seconds after it was fetched. Thread-safe.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from creditguard.models import Provenance, SubjectRecords, trusted

__all__ = ["CacheEntry", "RecordCache"]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """Records of one subject from one source, and when they were fetched."""

    records: SubjectRecords
    fetched_at: datetime
    fetched_mono: float
    provenance: Provenance


Key = tuple[str, str, bool]

_caches: weakref.WeakSet[RecordCache] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A thread of the parent may have held a cache's lock at the moment of fork.
    for cache in list(_caches):
        cache._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def fetched_provenance(source: str, records: SubjectRecords, fetched_at: datetime) -> Provenance:
    """Where ``records``, fetched from ``source`` at ``fetched_at``, came from."""
    return trusted(
        Provenance,
        source=source,
        fetched_at=fetched_at,
        stale=False,
        found=records.found,
        error=None,
        data_as_of=records.data_as_of,
    )


class RecordCache:
    """LRU of subject records with a freshness window."""

    def __init__(
        self,
        *,
        ttl: float = 300.0,
        maxsize: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        # An OrderedDict is an LRU whose every operation is one C call (a lookup, a
        # move_to_end, a popitem), where cachetools' LRUCache runs Python code per
        # insert and eviction: every clean subject checked is a new entry.
        self._data: OrderedDict[Key, CacheEntry] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._sources: set[str] = set()
        _caches.add(self)

    def fresh(self, source: str, code: str, include_related: bool) -> CacheEntry | None:
        """The entry if it is younger than ``ttl``."""
        key = (source, code, include_related)
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            self._data.move_to_end(key)
        if self._clock() - entry.fetched_mono > self.ttl:
            return None
        return entry

    def stale(
        self, source: str, code: str, include_related: bool, max_stale: float
    ) -> CacheEntry | None:
        """The entry if it is younger than ``max_stale`` (for use when the source fails)."""
        key = (source, code, include_related)
        with self._lock:
            entry = self._data.get(key)
            if entry is not None:
                self._data.move_to_end(key)
        if entry is None or self._clock() - entry.fetched_mono > max_stale:
            return None
        return entry

    def age(self, entry: CacheEntry) -> float:
        """Seconds since ``entry`` was fetched, by this cache's clock."""
        return max(0.0, self._clock() - entry.fetched_mono)

    def put(
        self,
        source: str,
        code: str,
        include_related: bool,
        records: SubjectRecords,
        fetched_at: datetime,
    ) -> CacheEntry:
        """Store records fetched now."""
        entry = CacheEntry(
            records, fetched_at, self._clock(), fetched_provenance(source, records, fetched_at)
        )
        # Kept even with ttl=0: the entry still serves stale-if-error.
        key = (source, code, include_related)
        data = self._data
        with self._lock:
            data[key] = entry
            data.move_to_end(key)  # a replaced entry is the most recent too
            if len(data) > self._maxsize:
                data.popitem(last=False)
            self._sources.add(source)
        return entry

    def invalidate(self, code: str) -> int:
        """Forget every entry of ``code`` (all sources); returns how many were dropped."""
        dropped = 0
        with self._lock:
            for source in self._sources:
                for related in (False, True):
                    if self._data.pop((source, code, related), None) is not None:
                        dropped += 1
        return dropped

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
