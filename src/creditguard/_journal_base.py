"""What both decision journals (SQLite and PostgreSQL) share, whatever the store.

The queue and its back-pressure, the writer thread, flushing in batches,
closing and forking live in :class:`QueuedJournal`; a backend says only how
one batch is written (:meth:`QueuedJournal._write`). :func:`verdict_fields`
builds the masked fields of a decision's verdict that both stores keep, and
:func:`entry_fields` reads them back as the fields of a ``JournalEntry``;
:func:`decision_facts` is the masked JSON a decision's text is rendered from
(``creditguard journal show``), and :func:`template_key` / :func:`verdict_key`
say which decisions share a verdict (and so the same facts).
"""

from __future__ import annotations

import atexit
import json
import logging
import operator
import os
import threading
import weakref
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from creditguard.errors import StorageError
from creditguard.forksafe import background_work
from creditguard.masking import mask_code, mask_decision_data
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


# The plain fields of a verdict, after its subject (read from the decision's field dict).
_PLAIN_FIELDS = (
    "subject_kind",
    "step",
    "region",
    "as_of",
    "outcome",
    "verified",
    "stale",
    "stale_age_s",
    "list_region",
    "list_version",
    "degraded_reason",
    "wording_version",
    "list_issued_by",
    "list_standing",
    "list_refused",
    "replay_uses_current_status",
)
# What a template verdict (no records, measures, conditions or possible matches) rests on,
# besides the sources: everything of the verdict row but the subject.
_TEMPLATE_ITEMS = operator.itemgetter(
    *_PLAIN_FIELDS, "records", "measures", "conditions", "possible_matches"
)
# The plain fields of a verdict, read from the decision's field dict in one C call.
_VERDICT_ITEMS = operator.itemgetter("subject_code", *_PLAIN_FIELDS)
# What of a decision its text is rendered from (explain() reads these), for ``facts``:
# not the id, time, subject or possible matches; of a record only what the text shows
# (its other fields, such as a source's extras, may name a person).
_FACT_FIELDS: dict[str, Any] = {
    "subject_kind": True,
    "step": True,
    "region": True,
    "as_of": True,
    "outcome": True,
    "records": {
        "__all__": {
            "source": True,
            "subject_code": True,
            "record": {
                "record_id",
                "list_kind",
                "domain",
                "list_name",
                "authority",
                "basis",
                "listed_on",
                "expires_on",
                "status",
                "public",
                "role",
                "via",
                "via_name",
            },
        }
    },
    "measures": True,
    "conditions": True,
    "list_region": True,
    "list_version": True,
    "list_issued_by": True,
    "list_standing": True,
    "list_refused": True,
    "wording_version": True,
    "provenance": True,
    "verified": True,
    "stale": True,
    "stale_age_s": True,
    "replay_uses_current_status": True,
    "degraded_reason": True,
}


def is_template(v: dict[str, Any]) -> bool:
    """True for a clean verdict (a decision's field dict ``v``): the same for every subject of its kind."""
    return not (v["records"] or v["measures"] or v["conditions"] or v["possible_matches"])


def template_key(v: dict[str, Any]) -> tuple[Any, ...]:
    """What a clean decision's verdict and text rest on (``v``: its field dict), subject aside.

    Its text also shows the sources, whether any knew the subject, and the data
    time to the minute: the key holds them, so one decision's facts render the
    text of every decision with the same key.
    """
    prov = v["provenance"]
    if len(prov) == 1 and prov[0].error is None:  # one source that answered: most checks
        p = prov[0]
        return (
            *_TEMPLATE_ITEMS(v),
            (p.source, p.found, True),
            _minute(p.data_as_of or p.fetched_at),
        )
    times = [p.data_as_of or p.fetched_at for p in prov if p.error is None]
    return (
        *_TEMPLATE_ITEMS(v),
        *[(p.source, p.found, p.error is None) for p in prov],
        _minute(min(times)) if times else None,
    )


#: The last data time :func:`_minute` was asked for, and its minute: a mirror's every
#: answer carries the same ``data_as_of`` object until its next load.
_last_minute: tuple[datetime | None, tuple[Any, ...]] = (None, ())


def _minute(t: datetime) -> tuple[Any, ...]:
    """``t`` to the minute, with its UTC offset (what a clean decision's text shows of it)."""
    global _last_minute
    last = _last_minute  # one read: another thread may replace it meanwhile
    if last[0] is t:
        return last[1]
    minute = (t.replace(second=0, microsecond=0), t.utcoffset())
    _last_minute = (t, minute)
    return minute


def verdict_key(v: dict[str, Any]) -> tuple[Any, ...]:
    """What a decision with records or measures rests on (``v``: its field dict), by identity.

    Warm checks of one subject reuse the same (memoised, immutable) records,
    measures and provenance objects, so their identities key the verdict: whoever
    keeps the key must keep those objects alive (see :func:`key_parts`), so no
    id is reused meanwhile.
    """
    return (
        id(v["records"]),
        id(v["measures"]),
        id(v["conditions"]),
        len(v["possible_matches"]),
        _VERDICT_ITEMS(v),
        *map(id, v["provenance"]),
    )


def key_parts(d: Decision) -> tuple[Any, ...]:
    """The objects whose identities are in :func:`verdict_key` of ``d`` (kept alive with the key)."""
    return (d.records, d.measures, d.conditions, d.provenance)


def decision_facts(d: Decision) -> str:
    """What the text of ``d`` is rendered from, as compact JSON, masked (see ``_FACT_FIELDS``)."""
    data = mask_decision_data(d.model_dump(mode="json", include=_FACT_FIELDS))
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _close_all() -> None:
    for j in list(_journals):
        j.close()


def _after_fork_in_child() -> None:
    for j in list(_journals):
        j._reset_after_fork()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
