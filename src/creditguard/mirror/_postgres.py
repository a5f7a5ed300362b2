"""The mirror in PostgreSQL: one store shared by every application server.

Same records, tombstones, status history, link rules, import report and
freshness as :class:`~creditguard.mirror.SqliteMirror` (one parity suite runs
against both). Imports stream the checked lines into a temporary table with
``COPY`` and apply them in set-based statements inside one transaction: all
or nothing. Every write transaction takes one advisory transaction lock, so
writers are serialised as SQLite's ``BEGIN IMMEDIATE`` serialises them, and
one process at a time applies the push feed (:meth:`PostgresMirror.feed_lock`).
The push feed's state (cursor, applied event ids) lives in the same database
(:class:`PostgresFeedState`), so a page's changes and its cursor commit
together: a sync killed mid-page leaves neither. A lookup is one prepared
statement in autocommit, one round trip: the freshness state and the rows
come from its one snapshot.

Tables are unqualified (``mirror_subjects``, ``mirror_records``,
``mirror_state``, ``mirror_feed_*``): put them in a schema of their own with
``options=-csearch_path=...`` in the DSN. The DSN is never shown (it may hold
a password). Needs ``psycopg`` 3 (``creditguard[postgres]``).

The import itself is :mod:`creditguard.mirror._postgres_import`, the feed's
state :mod:`creditguard.mirror._postgres_feed` (re-exported here).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

from creditguard.clock import CST
from creditguard.errors import SourceUnavailable, StorageError
from creditguard.forksafe import PerThread
from creditguard.journal_pg import is_dsn, pg_reason
from creditguard.mirror import _rules
from creditguard.mirror._postgres_feed import PostgresFeedState
from creditguard.mirror._postgres_import import PgImport
from creditguard.mirror._rules import DEFAULT_MAX_AGE_S, MirrorStats
from creditguard.mirror.importer import ImportReport
from creditguard.models import CreditRecord, Subject, SubjectRecords, trusted

if TYPE_CHECKING:
    import psycopg

__all__ = ["FeedBusy", "PostgresFeedState", "PostgresMirror", "is_postgres_dsn"]

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS mirror_subjects (
        seq BIGSERIAL NOT NULL,
        code TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        legal_rep TEXT)""",
    "CREATE INDEX IF NOT EXISTS mirror_subjects_legal_rep ON mirror_subjects (legal_rep) "
    "WHERE legal_rep IS NOT NULL",
    # seq keeps insertion order, as SQLite's rowid does: records come back in the same order.
    """CREATE TABLE IF NOT EXISTS mirror_records (
        seq BIGSERIAL NOT NULL,
        record_id TEXT PRIMARY KEY,
        subject_code TEXT NOT NULL,
        data TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS mirror_records_subject ON mirror_records (subject_code, seq)",
    """CREATE TABLE IF NOT EXISTS mirror_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        loaded_at DOUBLE PRECISION NOT NULL,
        imported_at DOUBLE PRECISION,
        synced_at DOUBLE PRECISION)""",
    "CREATE TABLE IF NOT EXISTS mirror_feed_cursor (feed TEXT PRIMARY KEY, cursor TEXT)",
    """CREATE TABLE IF NOT EXISTS mirror_feed_applied (
        event_id TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS mirror_feed_inbox (
        seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
        received_at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS mirror_feed_replays (
        replay_key TEXT PRIMARY KEY, seen_at DOUBLE PRECISION)""",
    "CREATE TABLE IF NOT EXISTS mirror_feed_counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL)",
)

# Lock keys are per schema, so two mirrors in two schemas of one database do not block each other.
_WRITE_LOCK: Final = (
    "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.creditguard_mirror'))"
)
_FEED_LOCK: Final = (
    "SELECT pg_try_advisory_lock(hashtext(current_schema() || '.creditguard_mirror_feed'))"
)
_FEED_UNLOCK: Final = (
    "SELECT pg_advisory_unlock(hashtext(current_schema() || '.creditguard_mirror_feed'))"
)

# A lookup is one statement, so one round trip and one snapshot (a statement is its own
# snapshot in autocommit): the state row (kind 3, or 4 once synced, loaded_at in ``t``), the
# subjects (kind 0), their records (kind 1, in insertion order) and, when asked, the records of
# the organisations each person represents (kind 2: person, record, organisation).
_LOOKUP_PARTS: Final = (
    "SELECT 0 AS k, code, data, NULL::text AS org, seq AS o1, 0::bigint AS o2, "
    "NULL::double precision AS t FROM mirror_subjects WHERE code = ANY(%(c)s) "
    "UNION ALL SELECT 1, subject_code, data, NULL, seq, 0, NULL FROM mirror_records "
    "WHERE subject_code = ANY(%(c)s) ",
    "UNION ALL SELECT 2, s.legal_rep, r.data, s.code, s.seq, r.seq, NULL FROM mirror_subjects s "
    "JOIN mirror_records r ON r.subject_code = s.code WHERE s.legal_rep = ANY(%(c)s) ",
    "UNION ALL SELECT 3 + (synced_at IS NOT NULL)::int, NULL, NULL, NULL, 0, 0, loaded_at "
    "FROM mirror_state ORDER BY 1, 5, 6",
)
_LOOKUP: Final = _LOOKUP_PARTS[0] + _LOOKUP_PARTS[2]
_LOOKUP_RELATED: Final = "".join(_LOOKUP_PARTS)
# The lookups are prepared on the server (one parse per connection), and planned once: left to
# itself, PostgreSQL plans ``= ANY($1)`` afresh on each call of a small mirror (about 80 µs of the
# ~160 µs a clean lookup took at 10,000 records, and half of a 500-code block). The generic plan
# probes the same indexes at any size; statements without parameters are unaffected.
_GENERIC_PLANS: Final = "SET plan_cache_mode = force_generic_plan"
_STATE: Final = "SELECT loaded_at, imported_at, synced_at FROM mirror_state"
_SET_STATE: Final = (
    "INSERT INTO mirror_state (id, loaded_at, {col}) VALUES (1, %(t)s, %(t)s) "
    "ON CONFLICT (id) DO UPDATE SET loaded_at = EXCLUDED.loaded_at, {col} = EXCLUDED.{col}"
)


def is_postgres_dsn(target: str) -> bool:
    """True when ``target`` names a PostgreSQL database rather than a file (see :func:`creditguard.journal_pg.is_dsn`)."""
    return is_dsn(target)


class FeedBusy(StorageError):
    """Another process holds the push feed of this mirror; it is applying it now."""


class PostgresMirror:
    """Records in PostgreSQL; implements the LocalSource protocol like :class:`SqliteMirror`.

    ``max_age_s`` bounds how old the last import or sync may be for a lookup
    to answer; ``clock`` (seconds since the epoch) is for tests.
    """

    def __init__(
        self,
        dsn: str,
        *,
        name: str = "mirror",
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
        connect_timeout_s: int = 10,
    ) -> None:
        self.max_age_s = _rules.checked_max_age(max_age_s)
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise StorageError(
                "a PostgreSQL mirror needs psycopg 3: pip install 'creditguard[postgres]'"
            ) from exc
        self.name = name
        self._dsn = dsn
        self._connect_timeout_s = connect_timeout_s
        self._clock = clock
        # each thread's connection; a forked child starts afresh
        self._per_thread = PerThread()
        self._schema_ready = False
        self._speaks: bool | None = None

    def __repr__(self) -> str:
        return "PostgresMirror(<dsn hidden>)"

    @property
    def where(self) -> str:
        """How messages name this mirror (never the DSN)."""
        return f"PostgreSQL mirror {self.name!r}"

    # -- connections -------------------------------------------------------------

    def _thread(self) -> threading.local:
        return self._per_thread.get()

    def _connection(self) -> psycopg.Connection[Any]:
        import psycopg

        local = self._thread()
        conn: psycopg.Connection[Any] | None = getattr(local, "conn", None)
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        conn = psycopg.connect(self._dsn, connect_timeout=self._connect_timeout_s, autocommit=True)
        # Once per connection, not per lookup (see _GENERIC_PLANS); before PostgreSQL 12 the
        # setting does not exist and lookups are planned each time (slower, same answers).
        with suppress(psycopg.errors.UndefinedObject):
            conn.execute(_GENERIC_PLANS)
        if not self._schema_ready:
            with conn.transaction():
                conn.execute(_WRITE_LOCK)
                for stmt in _SCHEMA:
                    conn.execute(stmt)
            self._schema_ready = True
        local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        local = self._thread()
        conn = getattr(local, "conn", None)
        if conn is not None:
            conn.close()
        local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One write transaction (a savepoint inside an open one), holding the mirror's write lock."""
        import psycopg

        try:
            conn = self._connection()
        except psycopg.Error as exc:
            raise StorageError(f"{self.where}: cannot connect: {pg_reason(exc)}") from exc
        try:
            with conn.transaction():
                conn.execute(_WRITE_LOCK)
                yield conn
        except psycopg.Error as exc:
            raise StorageError(
                f"{self.where}: write failed, nothing changed: {pg_reason(exc)}"
            ) from exc

    # -- reading -----------------------------------------------------------------

    def lookup(
        self, codes: Sequence[str], *, include_related: bool = False
    ) -> Mapping[str, SubjectRecords]:
        """Records of each code (tombstones included); for persons with ``include_related``, their organizations' too.

        Raises :class:`SourceUnavailable` when the database cannot be reached,
        was never loaded or was last loaded longer ago than ``max_age_s``.
        """
        import psycopg

        codes = list(codes)
        if not codes:
            return {}
        sql = _LOOKUP_RELATED if include_related else _LOOKUP
        try:
            conn = self._connection()
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                rows = conn.execute(sql, {"c": codes}, prepare=True).fetchall()
            else:  # inside a caller's transaction: a savepoint, so a failed read leaves it usable
                with conn.transaction():
                    rows = conn.execute(sql, {"c": codes}, prepare=True).fetchall()
        except psycopg.Error as exc:
            self._drop_broken()
            raise SourceUnavailable(
                f"cannot read {self.where}: {pg_reason(exc)}", source=self.name
            ) from exc
        state = rows.pop() if rows and rows[-1][0] >= 3 else None  # ordered last
        as_of = self._fresh(None if state is None else state[6])
        self._speaks = state is not None and state[0] == 4
        subjects: dict[str, Subject] = {}
        records: dict[str, list[CreditRecord]] = {}
        via: dict[str, list[CreditRecord]] = {}
        for kind, code, data, org_code, *_ in rows:
            if kind == 1:
                records.setdefault(code, []).append(CreditRecord.model_validate_json(data))
            elif kind == 0:
                subjects[code] = Subject.model_validate_json(data)
            else:
                rec = _rules.as_related(CreditRecord.model_validate_json(data), org_code)
                if rec is not None:
                    via.setdefault(code, []).append(rec)
        out: dict[str, SubjectRecords] = {}
        for code in codes:
            own = records.get(code, [])
            found = code in subjects or bool(own)
            recs = [*own, *via.get(code, ())] if include_related else own
            out[code] = trusted(
                SubjectRecords,
                code=code,
                subject=subjects.get(code),
                records=tuple(recs),
                found=found or bool(recs),
                possible_matches=(),
                data_as_of=as_of,
            )
        return out

    def _drop_broken(self) -> None:
        conn = getattr(self._thread(), "conn", None)
        if conn is not None and (conn.broken or conn.closed):
            self._thread().conn = None

    def _fresh(self, loaded: float | None) -> datetime:
        if loaded is None:
            raise _rules.never_loaded(self.where, self.name)
        as_of = datetime.fromtimestamp(loaded, CST)
        _rules.check_fresh(
            loaded,
            as_of,
            now=self._clock(),
            max_age_s=self.max_age_s,
            where=self.where,
            source=self.name,
            copied="database",
        )
        return as_of

    @property
    def speaks_for_platform(self) -> bool:
        """True once the mirror is kept from the platform's push feed (spec §4.0)."""
        if self._speaks is None:
            try:
                self._speaks = self.stats().speaks_for_platform
            except (SourceUnavailable, StorageError):
                return False
        return self._speaks

    def _read(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            return list(self._connection().execute(sql, params).fetchall())
        except psycopg.Error as exc:
            self._drop_broken()
            raise StorageError(f"cannot read {self.where}: {pg_reason(exc)}") from exc

    def count(self) -> tuple[int, int]:
        """Number of subjects and records held (tombstones of removed records included)."""
        row = self._read(
            "SELECT (SELECT COUNT(*) FROM mirror_subjects), (SELECT COUNT(*) FROM mirror_records)"
        )[0]
        return int(row[0]), int(row[1])

    def stats(self) -> MirrorStats:
        """Counts and load times."""
        subjects, records = self.count()
        removed = self._read(
            "SELECT COUNT(*) FROM mirror_records WHERE data::jsonb ->> 'status' = 'removed'"
        )[0][0]
        state = self._read(_STATE)
        return _rules.stats(subjects, records, removed, state[0] if state else None)

    def subject_of(self, record_id: str) -> str | None:
        """The subject code a record (or its tombstone) belongs to, if held."""
        rows = self._read(
            "SELECT subject_code FROM mirror_records WHERE record_id = %(r)s", {"r": record_id}
        )
        return str(rows[0][0]) if rows else None

    def all_codes(self) -> Iterator[str]:
        """Every subject code held (for the membership filter and re-screening)."""
        yield from (str(r[0]) for r in self._read("SELECT code FROM mirror_subjects"))

    # -- loading -----------------------------------------------------------------

    def mark_synced(self) -> None:
        """Record a successful sync from the platform's push feed (an empty poll counts)."""
        with self.transaction() as conn:
            conn.execute(_SET_STATE.format(col="synced_at"), {"t": self._clock()})
        self._speaks = True

    def mark_imported(self) -> None:
        """Record that records were loaded by other means and are current now."""
        with self.transaction() as conn:
            conn.execute(_SET_STATE.format(col="imported_at"), {"t": self._clock()})

    def import_jsonl(self, path: str | os.PathLike[str], *, dry_run: bool = False) -> ImportReport:
        """Import ``{"subject": {...}, "record": {...}}`` lines; all or nothing, streamed (see SqliteMirror)."""
        with _rules.file_lines(path) as lines:
            return self._import(lines, name=str(path), dry_run=dry_run)

    def import_lines(
        self, lines: Iterable[str | bytes], *, name: str = "<input>", dry_run: bool = False
    ) -> ImportReport:
        """Import lines given in memory (same rules as :meth:`import_jsonl`)."""
        return self._import(_rules.memory_lines(lines), name=name, dry_run=dry_run)

    def _import(
        self, lines: Iterable[tuple[int, str | None, str | None]], *, name: str, dry_run: bool
    ) -> ImportReport:
        import psycopg

        try:
            conn = self._connection()
        except psycopg.Error as exc:
            raise StorageError(f"{self.where}: cannot connect: {pg_reason(exc)}") from exc
        try:
            with conn.transaction() as tx:
                conn.execute(_WRITE_LOCK)
                report = PgImport(conn, name).run(lines)
                conn.execute(_SET_STATE.format(col="imported_at"), {"t": self._clock()})
                if dry_run:
                    raise psycopg.Rollback(tx)
        except psycopg.Error as exc:
            raise StorageError(
                f"{self.where}: import failed, nothing imported: {pg_reason(exc)}"
            ) from exc
        return report

    # -- push events (spec §7) --------------------------------------------------

    def upsert(
        self,
        subject: Subject | None,
        record: CreditRecord,
        *,
        subject_code: str | None = None,
        at: str | datetime | date | None = None,
    ) -> str:
        """Insert or update one record (and its subject); same rules as :meth:`SqliteMirror.upsert`."""
        code, kind, subject, record = _rules.normal_upsert(subject, record, subject_code)
        with self.transaction() as conn:
            held = conn.execute(
                "SELECT subject_code, data FROM mirror_records WHERE record_id = %(r)s FOR UPDATE",
                {"r": record.record_id},
            ).fetchone()
            data, outcome = _rules.merge_upsert(held, code, record, at)
            if subject is not None:
                rep = subject.legal_representative
                conn.execute(
                    "INSERT INTO mirror_subjects (code, kind, data, legal_rep) "
                    "VALUES (%(c)s, %(k)s, %(d)s, %(l)s) ON CONFLICT (code) DO UPDATE SET "
                    "kind = EXCLUDED.kind, data = EXCLUDED.data, legal_rep = EXCLUDED.legal_rep",
                    {
                        "c": code,
                        "k": kind,
                        "d": subject.model_dump_json(exclude_none=True),
                        "l": rep.code if rep else None,
                    },
                )
            if outcome != "unchanged":
                conn.execute(
                    "INSERT INTO mirror_records (record_id, subject_code, data) "
                    "VALUES (%(r)s, %(c)s, %(d)s) "
                    "ON CONFLICT (record_id) DO UPDATE SET data = EXCLUDED.data",
                    {"r": record.record_id, "c": code, "d": data},
                )
            return outcome

    def remove(
        self, record_id: str, *, subject_code: str, at: str | datetime | date | None = None
    ) -> bool:
        """Mark a record removed, keeping its tombstone; same rules as :meth:`SqliteMirror.remove`."""
        code, _ = _rules.normal_code(subject_code, "subject_code")
        with self.transaction() as conn:
            held = conn.execute(
                "SELECT subject_code, data FROM mirror_records WHERE record_id = %(r)s FOR UPDATE",
                {"r": record_id},
            ).fetchone()
            tomb = _rules.tombstone(held, record_id, code, at)
            if tomb is None:
                return False
            conn.execute(
                "UPDATE mirror_records SET data = %(d)s WHERE record_id = %(r)s",
                {"d": tomb, "r": record_id},
            )
            return True

    # -- the push feed ----------------------------------------------------------

    def feed_state(self) -> PostgresFeedState:
        """The push feed's cursor and applied ids, kept in this database (see :class:`PostgresFeedState`)."""
        return PostgresFeedState(self)

    @contextmanager
    def feed_lock(self) -> Iterator[None]:
        """Hold the right to apply the push feed; :class:`FeedBusy` when another process holds it.

        A session-level advisory lock: released on exit, and by the server
        when the holder's connection dies (a killed sync never blocks the next).
        """
        import psycopg

        conn = self._connection()
        try:
            got = conn.execute(_FEED_LOCK).fetchone()
        except psycopg.Error as exc:
            raise StorageError(
                f"{self.where}: cannot take the feed lock: {pg_reason(exc)}"
            ) from exc
        if not got or not got[0]:
            raise FeedBusy(
                f"{self.where}: another process is applying the push feed now; "
                "checks keep answering from the mirror, run sync again later"
            )
        try:
            yield
        finally:
            if not conn.closed and not conn.broken:
                conn.execute(_FEED_UNLOCK)

    @contextmanager
    def page(self) -> Iterator[None]:
        """One transaction around a page of feed events and its cursor: all commit, or none."""
        with self.transaction():
            yield
