"""The decision journal: every decision appended to a SQLite file.

Decisions are queued in memory and written in batches by a background
thread every ``flush_interval`` seconds (and on :meth:`DecisionJournal.close`
and at interpreter exit), which keeps I/O off the check's hot path. A crash
can lose at most the decisions of the last ``flush_interval`` (0.5 s by
default). Decisions that applied measures become cases, which are written
durably by the outbox before the step returns, so what a crash may lose here
is the audit copy, never the feedback duty.

The subject is stored masked for display (``subject``) and whole inside the
decision JSON; readers shown to operators (``creditguard journal``) mask it.
Repeated identical decisions (same subject, step, records and measures)
share one stored JSON body, so a busy guard writes small rows.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import sqlite3
import threading
import weakref
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from creditguard._files import prepare_private_file
from creditguard.errors import StorageError
from creditguard.forksafe import background_work
from creditguard.masking import mask_code, mask_name
from creditguard.models import Decision

__all__ = ["DecisionJournal", "JournalEntry", "read_journal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY,
    decided_at TEXT NOT NULL,
    subject TEXT NOT NULL,
    step TEXT NOT NULL,
    region TEXT NOT NULL,
    outcome TEXT NOT NULL,
    verified INTEGER NOT NULL,
    body TEXT REFERENCES bodies(hash),  -- a shared body, or
    data TEXT                           -- the body inline (clean decisions)
);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions(decided_at);
-- The decision JSON without id, time and explanation (recomputed on read);
-- shared by repeated identical decisions.
CREATE TABLE IF NOT EXISTS bodies (
    hash TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
"""

log = logging.getLogger("creditguard.journal")

#: Stored in their own columns (id, time) or recomputed on read (explanation).
_STORED_APART = {"decision_id", "decided_at", "explanation"}

_journals: weakref.WeakSet[DecisionJournal] = weakref.WeakSet()


def _flush_all_at_exit() -> None:
    for j in list(_journals):
        j.close()


atexit.register(_flush_all_at_exit)


def _after_fork_in_child() -> None:
    for j in list(_journals):
        j._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class DecisionJournal:
    """Append-only decision log in SQLite, written in batches off the hot path."""

    def __init__(self, path: str | os.PathLike[str], *, flush_interval: float = 0.5) -> None:
        self.path = Path(path)
        self.flush_interval = flush_interval
        try:
            prepare_private_file(self.path)  # owner-only: it holds personal data
            conn = self._connect()
            conn.executescript(_SCHEMA)
            conn.close()
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open decision journal {self.path}: {exc}") from exc
        self._queue: deque[Decision] = deque()
        self._wake = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._bodies: dict[Any, Any] = {}
        _journals.add(self)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def append(self, decision: Decision) -> None:
        """Queue a decision for writing (cheap; never blocks on I/O)."""
        self._queue.append(decision)
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                t = threading.Thread(target=self._run, name="creditguard-journal", daemon=True)
                self._thread = t
                t.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                with background_work():
                    self.flush()
            except StorageError as exc:  # kept queued; retried at the next interval
                log.error("%s", exc)

    def flush(self) -> int:
        """Write every queued decision now; returns how many were written."""
        with self._lock:
            batch: list[Decision] = []
            while self._queue:
                batch.append(self._queue.popleft())
            if not batch:
                return 0
            new_bodies: dict[str, str] = {}
            rows = [self._row(d, new_bodies) for d in batch]
            try:
                conn = self._connect()
                with conn:
                    conn.executemany(
                        "INSERT OR IGNORE INTO bodies VALUES (?, ?)", new_bodies.items()
                    )
                    conn.executemany(
                        "INSERT OR IGNORE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                    )
                conn.close()
            except sqlite3.Error as exc:
                # Put them back so a later flush can retry; the journal is an audit copy.
                self._queue.extendleft(reversed(batch))
                raise StorageError(f"decision journal {self.path}: write failed: {exc}") from exc
            return len(rows)

    def close(self) -> None:
        """Flush what is queued and stop the writer thread."""
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

    def _reset_after_fork(self) -> None:
        # The parent's writer thread does not exist in the child, and the lock may be held.
        self._lock = threading.Lock()
        self._thread = None
        self._queue = deque()

    def entries(
        self, *, since: datetime | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        """Flush, then read decisions (oldest first)."""
        self.flush()
        return read_journal(self.path, since=since, limit=limit)

    def _row(self, d: Decision, new_bodies: dict[str, str]) -> tuple[Any, ...]:
        # Repeated checks of one subject differ only in id and time; their records,
        # measures and provenance are the same (memoised, immutable) objects, so the
        # rest of the JSON is serialised once and reused. The memo keeps those
        # objects alive, so their ids cannot be reused while they are keys.
        if not d.records and not d.possible_matches:
            # Clean decisions are mostly distinct subjects: stored inline, no memo churn.
            return (
                d.decision_id,
                d.decided_at.isoformat(),
                mask_code(d.subject_code, d.subject_kind),
                d.step,
                d.region,
                d.outcome,
                int(d.verified),
                None,
                d.model_dump_json(exclude=_STORED_APART),
            )
        parts = (d.records, d.measures, d.conditions, d.provenance, d.possible_matches)
        key = (
            id(d.records),
            id(d.measures),
            id(d.conditions),
            *map(id, d.provenance),
            d.subject_code,
            d.step,
            d.region,
            d.as_of,
            d.outcome,
            d.verified,
            d.stale,
            d.degraded_reason,
            d.list_region,
            d.list_version,
            d.subject_name,
            len(d.provenance),
            d.possible_matches,
        )
        hit = self._bodies.get(key)
        if hit is None:
            body = d.model_dump_json(exclude=_STORED_APART)
            digest = hashlib.blake2b(body.encode(), digest_size=16).hexdigest()
            if len(self._bodies) > 4096:
                self._bodies.clear()
            masked = mask_code(d.subject_code, d.subject_kind)
            hit = self._bodies[key] = (parts, digest, masked)
            new_bodies[digest] = body
        return (
            d.decision_id,
            d.decided_at.isoformat(),
            hit[2],
            d.step,
            d.region,
            d.outcome,
            int(d.verified),
            hit[1],
            None,
        )


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled decision, with personal data masked for display."""

    decision_id: str
    decided_at: str
    subject: str
    step: str
    region: str
    outcome: str
    verified: bool
    data: dict[str, Any]


def read_journal(
    path: str | os.PathLike[str], *, since: datetime | None = None, limit: int | None = None
) -> list[JournalEntry]:
    """Read journaled decisions, oldest first, masking resident ID numbers in the data."""
    p = Path(path)
    if not p.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        sql = (
            "SELECT d.decision_id, d.decided_at, d.subject, d.step, d.region, d.outcome, d.verified,"
            " COALESCE(b.data, d.data) FROM decisions d LEFT JOIN bodies b ON b.hash = d.body"
        )
        args: list[Any] = []
        if since is not None:
            sql += " WHERE d.decided_at >= ?"
            args.append(since.isoformat())
        sql += " ORDER BY d.decided_at, d.decision_id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        rows = conn.execute(sql, args).fetchall()
        conn.close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read decision journal {p}: {exc}") from exc
    return [
        JournalEntry(
            r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), _masked(_full(r[0], r[1], r[7]))
        )
        for r in rows
    ]


def _full(decision_id: str, decided_at: str, body: str) -> dict[str, Any]:
    """The decision as stored, with its explanation recomputed (it is a pure function of it)."""
    data = {"decision_id": decision_id, "decided_at": decided_at, **json.loads(body)}
    decision = Decision.model_validate(data)
    return decision.model_dump(mode="json")


def _masked(data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("subject_kind")
    data["subject_code"] = mask_code(data["subject_code"], kind)
    if kind == "person":
        data["subject_name"] = mask_name(data.get("subject_name"))
        for er in data.get("records", []):
            er["subject_code"] = mask_code(er["subject_code"], kind)
        for pm in data.get("possible_matches", []):
            pm["name"] = mask_name(pm.get("name"))
            if pm.get("identifier"):
                pm["identifier"] = mask_code(pm["identifier"])
    return data
