"""What both decision journals (SQLite and PostgreSQL) share, whatever the store.

The queue and its back-pressure, the writer thread, flushing in batches,
closing and forking live in :class:`QueuedJournal`; a backend says only how
one batch is written (:meth:`QueuedJournal._write`). :func:`verdict_fields`
builds the masked fields of a decision's verdict that both stores keep, and
:func:`entry_fields` reads them back as the fields of a ``JournalEntry``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

from creditguard.errors import StorageError
from creditguard.forksafe import background_work
from creditguard.masking import mask_code
from creditguard.models import Decision

log = logging.getLogger("creditguard.journal")

_journals: weakref.WeakSet[QueuedJournal] = weakref.WeakSet()


class QueuedJournal:
    """A bounded in-memory queue of decisions, written in batches by a background thread.

    ``flush_interval`` is the longest a decision waits while the guard is
    quiet; ``batch`` queued decisions wake the writer sooner; at ``max_queued``
    the checking thread writes the queue down to half itself (back-pressure).
    Nothing is dropped: a batch that cannot be written goes back on the queue.
    """

    path: Any
    _thread_name = "creditguard-journal"

    def __init__(self, *, flush_interval: float, batch: int, max_queued: int) -> None:
        if not (0 < batch <= max_queued):
            raise ValueError(f"journal: need 0 < batch ({batch}) <= max_queued ({max_queued})")
        self.flush_interval = flush_interval
        self.batch = batch
        self.max_queued = max_queued
        self._queue: deque[Any] = deque()
        self._in_flight = 0
        self._wake = threading.Event()
        self._closed = False
        self._lock = threading.Lock()  # one writer at a time (thread, caller, close)
        self._thread: threading.Thread | None = None

    def _register(self) -> None:
        """Close at exit and start afresh in a forked child (call once the store is open)."""
        _journals.add(self)

    @property
    def pending(self) -> int:
        """Decisions appended but not yet committed (queued or being written)."""
        return len(self._queue) + self._in_flight

    def _behind(self, queued: int) -> None:
        """``batch`` or more are queued: wake the writer, or write here at ``max_queued``."""
        if self._thread is None:
            self._start()
        if queued < self.max_queued:
            self._wake.set()
            return
        with self._lock:  # waits for a write in progress, then helps
            while len(self._queue) > self.max_queued // 2:
                self._write_batch()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                t = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
                self._thread = t
                t.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except StorageError as exc:  # kept queued; retried at the next interval
                log.error("%s", exc)

    def flush(self) -> int:
        """Write every decision queued now; returns how many were written.

        Each batch is its own unit of background work, so a fork waits for
        one batch at most, never for the whole queue.
        """
        written = 0
        todo = len(self._queue)
        while todo > 0:
            with background_work(), self._lock:
                n = self._write_batch()
            if n == 0:
                break
            written += n
            todo -= n
        return written

    def _write_batch(self) -> int:
        """Write up to ``batch`` queued decisions (caller holds the lock); a failure re-queues them."""
        q = self._queue
        take = min(len(q), self.batch)
        if take == 0:
            return 0
        self._in_flight = take  # before the pops, so `pending` never reads low
        batch = [q.popleft() for _ in range(take)]
        try:
            self._write(batch)
        except StorageError:
            q.extendleft(reversed(batch))  # kept, in order, for a later write
            raise
        finally:
            self._in_flight = 0
        return take

    def _write(self, batch: list[Any]) -> None:
        """Write ``batch`` in one transaction; raise :class:`StorageError` if it was not written."""
        raise NotImplementedError

    def _close_store(self) -> None:
        """Close the store's connection (called with the lock held)."""
        raise NotImplementedError

    def close(self) -> None:
        """Write what is queued and stop the writer thread (bounded: at most ``max_queued``)."""
        self._closed = True
        self._wake.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)
        try:
            self.flush()
        except StorageError as exc:
            log.error("decisions could not be journaled at close: %s", exc)
        self._thread = None
        with self._lock:
            self._close_store()

    def _reset_after_fork(self) -> None:
        # The parent's writer thread and connection do not exist for the child (the lock
        # may be held): start afresh, with the parent's queue left to the parent.
        self._lock = threading.Lock()
        self._thread = None
        self._in_flight = 0
        self._queue = deque()


def verdict_fields(d: Decision, subject: str) -> tuple[Any, ...]:
    """The verdict of ``d`` as both stores keep it, from ``subject`` to ``degraded_reason``.

    ``subject`` is the masked subject (see :func:`masked_subject`) or ``""``.
    """
    return (
        subject,
        d.subject_kind,
        d.step,
        d.region,
        d.as_of.isoformat(),
        d.outcome,
        d.verified,
        d.stale,
        d.stale_age_s,
        " ".join([m.code for m in d.measures]),
        " ".join([m.code for m in d.conditions]),
        " ".join([er.record.record_id for er in d.records]),
        d.list_region,
        d.list_version,
        " ".join([p.source for p in d.provenance]),
        len(d.possible_matches),
        d.degraded_reason,
    )


def masked_subject(d: Decision) -> str:
    """The subject of ``d`` as journaled: a resident ID number keeps 6 + 4 characters."""
    return mask_code(d.subject_code, d.subject_kind)


def entry_fields(r: Sequence[Any], first: int) -> tuple[Any, ...]:
    """Stored verdict fields (from ``r[first]``, in :func:`verdict_fields` order) as a ``JournalEntry``'s after id and time."""
    (
        subject,
        kind,
        step,
        region,
        as_of,
        outcome,
        verified,
        stale,
        stale_age_s,
        measures,
        conditions,
        records,
        list_region,
        list_version,
        sources,
        possible_matches,
        degraded_reason,
    ) = r[first : first + 17]
    return (
        subject,
        kind,
        step,
        region,
        as_of,
        outcome,
        bool(verified),
        bool(stale),
        stale_age_s,
        tuple(measures.split()),
        tuple(conditions.split()),
        tuple(records.split()),
        list_region,
        list_version,
        tuple(sources.split()),
        possible_matches,
        degraded_reason,
    )


def _close_all() -> None:
    for j in list(_journals):
        j.close()


def _after_fork_in_child() -> None:
    for j in list(_journals):
        j._reset_after_fork()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
