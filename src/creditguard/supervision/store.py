"""The supervision store: listings under supervision, their events, disclosures (embedded SQLite).

One owner-only file (0600, :mod:`creditguard._files`), by default
``<data_dir>/supervision.db``. It holds personal data (attendees, persons
named), so every view for people (:func:`creditguard.supervision.history`)
masks it. Every write is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creditguard._files import prepare_private_file
from creditguard.errors import StorageError
from creditguard.models import CreditRecord
from creditguard.supervision.events import SupervisionEvent

__all__ = ["Listing", "StoredDisclosure", "SupervisionStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS listings (
    record_id TEXT PRIMARY KEY,
    subject_code TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    record TEXT NOT NULL,          -- the credit record as JSON (spec §4)
    platform_status TEXT,          -- last status the platform reported, if any
    platform_status_on TEXT
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    subject_code TEXT NOT NULL,
    record_id TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    region TEXT NOT NULL,
    at TEXT NOT NULL,
    day TEXT NOT NULL,
    data TEXT NOT NULL,
    outbox_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_subject ON events (subject_code, seq);
CREATE INDEX IF NOT EXISTS events_record ON events (record_id, seq);
-- persons named for an organisation's listing (notice 893 §8), looked up by the check
CREATE INDEX IF NOT EXISTS events_person ON events (json_extract(data, '$.person.code'), seq)
    WHERE type = 'responsible_person.named';
CREATE TABLE IF NOT EXISTS disclosures (
    disclosure_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_code TEXT NOT NULL,
    region TEXT NOT NULL,
    decided_on TEXT NOT NULL,
    prepared_on TEXT NOT NULL,
    publish_by TEXT NOT NULL,
    body TEXT NOT NULL,
    outbox_key TEXT NOT NULL,
    withdrawal TEXT,               -- JSON body of spec §11.2 once withdrawn
    withdraw_by TEXT,
    withdrawn_on TEXT,
    withdrawal_key TEXT
);
"""


@dataclass(frozen=True, slots=True)
class Listing:
    """A record under supervision and the subject it belongs to."""

    record: CreditRecord
    subject_code: str
    subject_kind: str
    platform_status: str | None = None
    platform_status_on: str | None = None


@dataclass(frozen=True, slots=True)
class StoredDisclosure:
    """A prepared disclosure (spec §11.1 body) and its withdrawal, if any."""

    disclosure_id: str
    kind: str
    subject_code: str
    region: str
    decided_on: str
    prepared_on: str
    publish_by: str
    body: Mapping[str, Any]
    outbox_key: str
    withdrawal: Mapping[str, Any] | None = None
    withdraw_by: str | None = None
    withdrawn_on: str | None = None
    withdrawal_key: str | None = None


class SupervisionStore:
    """SQLite store of listings, events and disclosures; safe across threads of one process."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            prepare_private_file(self.path)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA busy_timeout = 5000")
            self._conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"supervision store {self.path}: {exc}") from None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SupervisionStore({self.path!r})"

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StorageError(f"supervision store {self.path}: {exc}") from None

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._conn.execute(sql, args))
            except sqlite3.Error as exc:
                raise StorageError(f"supervision store {self.path}: {exc}") from None

    # --- listings ---------------------------------------------------------------------

    def put_listing(self, subject_code: str, subject_kind: str, record: CreditRecord) -> None:
        """Remember (or refresh) a record under supervision."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO listings (record_id, subject_code, subject_kind, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (record_id) DO UPDATE SET record = excluded.record",
                (record.record_id, subject_code, subject_kind, record.model_dump_json()),
            )

    def set_platform_status(self, record_id: str, status: str, on: str) -> None:
        """Note the status the platform reported for a record (the authority for status, spec §4.0)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE listings SET platform_status = ?, platform_status_on = ? WHERE record_id = ?",
                (status, on, record_id),
            )

    def listing(self, record_id: str) -> Listing | None:
        """The listing of ``record_id``, or None."""
        rows = self._rows(
            "SELECT record, subject_code, subject_kind, platform_status, platform_status_on "
            "FROM listings WHERE record_id = ?",
            (record_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return Listing(CreditRecord.model_validate_json(r[0]), r[1], r[2], r[3], r[4])

    def listings(self) -> list[Listing]:
        """Every listing, by record id."""
        rows = self._rows(
            "SELECT record, subject_code, subject_kind, platform_status, platform_status_on "
            "FROM listings ORDER BY record_id"
        )
        return [
            Listing(CreditRecord.model_validate_json(r[0]), r[1], r[2], r[3], r[4]) for r in rows
        ]

    # --- events -----------------------------------------------------------------------

    def add_event(self, event: SupervisionEvent, *, region: str, day: str, outbox_key: str) -> None:
        """Store one event (its id unique)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO events (event_id, type, subject_code, record_id, unit_code, region, at, day, "
                "data, outbox_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.event_id,
                    event.type,
                    event.subject_code,
                    event.record_id,
                    event.unit_code,
                    region,
                    event.at,
                    day,
                    json.dumps(dict(event.data), ensure_ascii=False, sort_keys=True),
                    outbox_key,
                ),
            )

    def remove_event(self, event_id: str) -> None:
        """Undo :meth:`add_event` (when the outbox could not take the event)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM events WHERE event_id = ?", (event_id,))

    def events(
        self,
        *,
        subject_code: str | None = None,
        record_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[tuple[SupervisionEvent, str, str]]:
        """Events, oldest first, as (event, region, day), filtered by subject, record and day range."""
        where, args = [], []
        for column, value in (("subject_code", subject_code), ("record_id", record_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("day >= ?")
            args.append(since)
        if until is not None:
            where.append("day <= ?")
            args.append(until)
        sql = "SELECT event_id, type, subject_code, record_id, unit_code, at, data, region, day FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        out = []
        for r in self._rows(sql + " ORDER BY seq", args):
            ev = SupervisionEvent(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))
            out.append((ev, r[7], r[8]))
        return out

    def named_roles(self, person_code: str) -> list[tuple[str, str, str, str]]:
        """Listings ``person_code`` was named for (``responsible_person.named``), oldest first.

        Each as (record id, organisation code, role, day of the naming).
        """
        rows = self._rows(
            "SELECT record_id, subject_code, json_extract(data, '$.person.role'), day FROM events "
            "WHERE type = 'responsible_person.named' AND json_extract(data, '$.person.code') = ? "
            "ORDER BY seq",
            (person_code,),
        )
        return [(r[0], r[1], str(r[2]), r[3]) for r in rows]

    # --- disclosures ------------------------------------------------------------------

    def add_disclosure(self, d: StoredDisclosure) -> None:
        """Store a prepared disclosure (its id unique)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO disclosures (disclosure_id, kind, subject_code, region, decided_on, prepared_on, "
                "publish_by, body, outbox_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    d.disclosure_id,
                    d.kind,
                    d.subject_code,
                    d.region,
                    d.decided_on,
                    d.prepared_on,
                    d.publish_by,
                    json.dumps(dict(d.body), ensure_ascii=False, sort_keys=True),
                    d.outbox_key,
                ),
            )

    def remove_disclosure(self, disclosure_id: str) -> None:
        """Undo :meth:`add_disclosure` (when the outbox could not take it)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM disclosures WHERE disclosure_id = ?", (disclosure_id,))

    def set_withdrawal(
        self,
        disclosure_id: str,
        body: Mapping[str, Any] | None,
        *,
        withdraw_by: str | None,
        withdrawn_on: str | None,
        key: str | None,
    ) -> None:
        """Record (or, with ``body=None``, undo) a disclosure's withdrawal."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE disclosures SET withdrawal = ?, withdraw_by = ?, withdrawn_on = ?, withdrawal_key = ? "
                "WHERE disclosure_id = ?",
                (
                    None if body is None else json.dumps(dict(body), ensure_ascii=False),
                    withdraw_by,
                    withdrawn_on,
                    key,
                    disclosure_id,
                ),
            )

    def disclosures(self, disclosure_id: str | None = None) -> list[StoredDisclosure]:
        """Disclosures, by id (one when ``disclosure_id`` is given)."""
        sql = (
            "SELECT disclosure_id, kind, subject_code, region, decided_on, prepared_on, publish_by, body, "
            "outbox_key, withdrawal, withdraw_by, withdrawn_on, withdrawal_key FROM disclosures"
        )
        args: list[Any] = []
        if disclosure_id is not None:
            sql += " WHERE disclosure_id = ?"
            args.append(disclosure_id)
        out = []
        for r in self._rows(sql + " ORDER BY disclosure_id", args):
            out.append(
                StoredDisclosure(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    json.loads(r[7]),
                    r[8],
                    None if r[9] is None else json.loads(r[9]),
                    r[10],
                    r[11],
                    r[12],
                )
            )
        return out

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()
