"""The record cache is a bounded LRU: a read makes an entry recent, the least recent goes first."""

from __future__ import annotations

from datetime import datetime

from creditguard.cache import RecordCache
from creditguard.clock import CST
from creditguard.models import SubjectRecords

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)


def _records(code: str) -> SubjectRecords:
    return SubjectRecords(code=code, found=False)


def test_the_least_recently_used_entry_is_evicted_first() -> None:
    cache = RecordCache(ttl=60, maxsize=2, clock=lambda: 0.0)
    cache.put("m", "A", False, _records("A"), T0)
    cache.put("m", "B", False, _records("B"), T0)
    assert cache.fresh("m", "A", False) is not None  # A is now the most recent
    cache.put("m", "C", False, _records("C"), T0)
    assert len(cache) == 2
    assert cache.fresh("m", "B", False) is None
    assert cache.fresh("m", "A", False) is not None and cache.fresh("m", "C", False) is not None
    assert cache.stale("m", "A", False, 60) is not None  # a stale read counts as a use too
    cache.put("m", "D", False, _records("D"), T0)
    assert cache.stale("m", "C", False, 60) is None and cache.stale("m", "A", False, 60)


def test_replacing_an_entry_keeps_one_and_makes_it_recent() -> None:
    cache = RecordCache(ttl=60, maxsize=2, clock=lambda: 0.0)
    cache.put("m", "A", False, _records("A"), T0)
    cache.put("m", "B", False, _records("B"), T0)
    cache.put("m", "A", False, _records("A"), T0)
    cache.put("m", "C", False, _records("C"), T0)
    assert len(cache) == 2 and cache.fresh("m", "B", False) is None
    assert cache.invalidate("A") == 1 and len(cache) == 1
