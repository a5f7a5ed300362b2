"""The supervision store: listings under supervision, their events, disclosures.

:class:`SupervisionStore` holds every store-independent part (the queries,
the rows' shapes, JSON encoding); two back ends supply connections and
transactions: the embedded SQLite file (:class:`~creditguard.supervision.store_sqlite.SqliteSupervisionStore`,
owner-only 0600, by default ``<data_dir>/supervision.db``) and PostgreSQL
(:class:`~creditguard.supervision.store_pg.PostgresSupervisionStore`, for
several hosts beside a PostgreSQL outbox). ``SupervisionStore(target)`` opens
the one ``target`` names: a ``postgresql://`` DSN or a file path.

The store holds personal data (attendees, persons named), so every view for
people (:func:`creditguard.supervision.history`) masks it. Every write is one
transaction; :meth:`SupervisionStore.listing_lock` holds one listing for a
read-check-write step, so two processes never both pass a once-per-listing
rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar

from creditguard.models import CreditRecord
from creditguard.supervision.events import SupervisionEvent

__all__ = ["Listing", "StoredDisclosure", "SupervisionStore"]


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


#: The tables of both back ends, in the dialect-neutral SQL of :meth:`SupervisionStore._sql`
#: (``{serial}`` is the back end's auto-numbered key).
SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS {listings} (
    record_id TEXT PRIMARY KEY,
    subject_code TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    record TEXT NOT NULL,          -- the credit record as JSON (spec §4)
    platform_status TEXT,          -- last status the platform reported, if any
    platform_status_on TEXT)""",
    """CREATE TABLE IF NOT EXISTS {events} (
    seq {serial},
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    subject_code TEXT NOT NULL,
    record_id TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    region TEXT NOT NULL,
    at TEXT NOT NULL,
    day TEXT NOT NULL,
    data TEXT NOT NULL,
    outbox_key TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS {events}_subject ON {events} (subject_code, seq)",
    "CREATE INDEX IF NOT EXISTS {events}_record ON {events} (record_id, seq)",
    # persons named for an organisation's listing (notice 893 §8), looked up by the check
    "CREATE INDEX IF NOT EXISTS {events}_person ON {events} (({person_code}), seq) "
    "WHERE type = 'responsible_person.named'",
    """CREATE TABLE IF NOT EXISTS {disclosures} (
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
    withdrawal_key TEXT)""",
)


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), ensure_ascii=False, sort_keys=True)


_LISTING_COLUMNS = "record, subject_code, subject_kind, platform_status, platform_status_on"
_DISCLOSURE_COLUMNS = (
    "disclosure_id, kind, subject_code, region, decided_on, prepared_on, publish_by, body, "
    "outbox_key, withdrawal, withdraw_by, withdrawn_on, withdrawal_key"
)


class SupervisionStore:
    """Listings, events and disclosures; the queries of both back ends.

    SQL here names tables ``{listings}``, ``{events}``, ``{disclosures}``,
    the person named by a ``responsible_person.named`` event ``{person_code}``
    / ``{person_role}``, and parameters ``?``; a back end's :meth:`_sql` turns
    that into its dialect.
    """

    #: how messages name this store (never a DSN)
    where: str
    #: table names, the named person's JSON paths and ``serial`` in this back end's SQL
    _dialect: ClassVar[Mapping[str, str]]
    #: the parameter marker of this back end's driver
    _param: ClassVar[str] = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> SupervisionStore:
        if cls is SupervisionStore:
            target = str(args[0] if args else kwargs.get("target", kwargs.get("path", "")))
            from creditguard.journal_pg import is_dsn

            if is_dsn(target):
                from creditguard.supervision.store_pg import PostgresSupervisionStore

                cls = PostgresSupervisionStore
            else:
                from creditguard.supervision.store_sqlite import SqliteSupervisionStore

                cls = SqliteSupervisionStore
        return super().__new__(cls)

    # --- what a back end supplies ---------------------------------------------------

    def _sql(self, text: str) -> str:
        """``text`` in this back end's dialect (tables, JSON paths, parameter markers)."""
        out = text.format_map(self._dialect)
        return out if self._param == "?" else out.replace("?", self._param)

    def _write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run dialect ``statements`` in one transaction (inside an open :meth:`listing_lock`, in it)."""
        raise NotImplementedError

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one dialect query (inside an open :meth:`listing_lock`, in its transaction)."""
        raise NotImplementedError

    def listing_lock(self, record_id: str) -> AbstractContextManager[None]:
        """Hold ``record_id``'s listing for one read-check-write step (one transaction).

        Reads and writes of this thread inside the block see and join it;
        another thread or process asking for the same listing waits until it
        ends. Leaving by an exception undoes the block's writes.
        """
        raise NotImplementedError

    def reopen(self) -> SupervisionStore:
        """A new store over the same database (a forked process needs its own connection)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection(s)."""
        raise NotImplementedError

    def _schema(self) -> list[str]:
        """:data:`SCHEMA` in this back end's dialect."""
        return [self._sql(stmt) for stmt in SCHEMA]

    def _one(self, sql: str, args: Sequence[Any]) -> None:
        self._write([(self._sql(sql), args)])

    def _select(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._rows(self._sql(sql), args)

    # --- listings ---------------------------------------------------------------------

    def put_listing(self, subject_code: str, subject_kind: str, record: CreditRecord) -> None:
        """Remember (or refresh) a record under supervision."""
        self._one(
            "INSERT INTO {listings} (record_id, subject_code, subject_kind, record) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (record_id) DO UPDATE SET record = excluded.record",
            (record.record_id, subject_code, subject_kind, record.model_dump_json()),
        )

    def set_platform_status(self, record_id: str, status: str, on: str) -> None:
        """Note the status the platform reported for a record (the authority for status, spec §4.0)."""
        self._one(
            "UPDATE {listings} SET platform_status = ?, platform_status_on = ? WHERE record_id = ?",
            (status, on, record_id),
        )

    @staticmethod
    def _listing_of(r: tuple[Any, ...]) -> Listing:
        return Listing(CreditRecord.model_validate_json(r[0]), r[1], r[2], r[3], r[4])

    def listing(self, record_id: str) -> Listing | None:
        """The listing of ``record_id``, or None."""
        rows = self._select(
            f"SELECT {_LISTING_COLUMNS} FROM {{listings}} WHERE record_id = ?", (record_id,)
        )
        return self._listing_of(rows[0]) if rows else None

    def listings(self) -> list[Listing]:
        """Every listing, by record id."""
        rows = self._select(f"SELECT {_LISTING_COLUMNS} FROM {{listings}} ORDER BY record_id")
        return [self._listing_of(r) for r in rows]

    # --- events -----------------------------------------------------------------------

    def add_event(self, event: SupervisionEvent, *, region: str, day: str, outbox_key: str) -> None:
        """Store one event (its id unique)."""
        self._one(
            "INSERT INTO {events} (event_id, type, subject_code, record_id, unit_code, region, at, day, "
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
                _json(event.data),
                outbox_key,
            ),
        )

    def remove_event(self, event_id: str) -> None:
        """Undo :meth:`add_event` (when the outbox could not take the event)."""
        self._one("DELETE FROM {events} WHERE event_id = ?", (event_id,))

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
        for test, value in (
            ("subject_code = ?", subject_code),
            ("record_id = ?", record_id),
            ("day >= ?", since),
            ("day <= ?", until),
        ):
            if value is not None:
                where.append(test)
                args.append(value)
        sql = "SELECT event_id, type, subject_code, record_id, unit_code, at, data, region, day FROM {events}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        out = []
        for r in self._select(sql + " ORDER BY seq", args):
            ev = SupervisionEvent(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))
            out.append((ev, r[7], r[8]))
        return out

    def named_roles(self, person_code: str) -> list[tuple[str, str, str, str]]:
        """Listings ``person_code`` was named for (``responsible_person.named``), oldest first.

        Each as (record id, organisation code, role, day of the naming).
        """
        rows = self._select(
            "SELECT record_id, subject_code, {person_role}, day FROM {events} "
            "WHERE type = 'responsible_person.named' AND {person_code} = ? ORDER BY seq",
            (person_code,),
        )
        return [(r[0], r[1], str(r[2]), r[3]) for r in rows]

    # --- disclosures ------------------------------------------------------------------

    def add_disclosure(self, d: StoredDisclosure) -> None:
        """Store a prepared disclosure (its id unique)."""
        self._one(
            "INSERT INTO {disclosures} (disclosure_id, kind, subject_code, region, decided_on, "
            "prepared_on, publish_by, body, outbox_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                d.disclosure_id,
                d.kind,
                d.subject_code,
                d.region,
                d.decided_on,
                d.prepared_on,
                d.publish_by,
                _json(d.body),
                d.outbox_key,
            ),
        )

    def remove_disclosure(self, disclosure_id: str) -> None:
        """Undo :meth:`add_disclosure` (when the outbox could not take it)."""
        self._one("DELETE FROM {disclosures} WHERE disclosure_id = ?", (disclosure_id,))

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
        self._one(
            "UPDATE {disclosures} SET withdrawal = ?, withdraw_by = ?, withdrawn_on = ?, "
            "withdrawal_key = ? WHERE disclosure_id = ?",
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
        sql = f"SELECT {_DISCLOSURE_COLUMNS} FROM {{disclosures}}"
        args: list[Any] = []
        if disclosure_id is not None:
            sql += " WHERE disclosure_id = ?"
            args.append(disclosure_id)
        out = []
        for r in self._select(sql + " ORDER BY disclosure_id", args):
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
