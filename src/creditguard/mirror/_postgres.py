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
together: a sync killed mid-page leaves neither.

Tables are unqualified (``mirror_subjects``, ``mirror_records``,
``mirror_state``, ``mirror_feed_*``): put them in a schema of their own with
``options=-csearch_path=...`` in the DSN. The DSN is never shown (it may hold
a password). Needs ``psycopg`` 3 (``creditguard[postgres]``).
"""

from __future__ import annotations

import heapq
import json
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

from creditguard.clock import CST
from creditguard.errors import InvalidRecordError, SourceUnavailable, StorageError
from creditguard.mirror import _rules, importer
from creditguard.mirror._rules import DEFAULT_MAX_AGE_S, MirrorStats
from creditguard.mirror.importer import MAX_SHOWN, ImportReport, LinkChange, conflict_text
from creditguard.mirror.lines import parse_line
from creditguard.models import CreditRecord, RelatedPerson, Subject, SubjectRecords, trusted

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

_LOOKUP: Final = (
    "SELECT code, 0, data, seq FROM mirror_subjects WHERE code = ANY(%(c)s) "
    "UNION ALL SELECT subject_code, 1, data, seq FROM mirror_records WHERE subject_code = ANY(%(c)s) "
    "ORDER BY 2, 4"
)
_RELATED: Final = (
    "SELECT s.legal_rep, s.code, r.data FROM mirror_subjects s "
    "JOIN mirror_records r ON r.subject_code = s.code "
    "WHERE s.legal_rep = ANY(%(c)s) ORDER BY s.seq, r.seq"
)
_STATE: Final = "SELECT loaded_at, imported_at, synced_at FROM mirror_state"
_SET_STATE: Final = (
    "INSERT INTO mirror_state (id, loaded_at, {col}) VALUES (1, %(t)s, %(t)s) "
    "ON CONFLICT (id) DO UPDATE SET loaded_at = EXCLUDED.loaded_at, {col} = EXCLUDED.{col}"
)


def is_postgres_dsn(target: str) -> bool:
    """True when ``target`` names a PostgreSQL database rather than a file."""
    return target.startswith(("postgresql://", "postgres://"))


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
        self._local = threading.local()
        self._pid = os.getpid()
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
        if self._pid != os.getpid():  # a forked child must not use the parent's socket
            self._local = threading.local()
            self._pid = os.getpid()
        return self._local

    def _connection(self) -> psycopg.Connection[Any]:
        import psycopg

        local = self._thread()
        conn: psycopg.Connection[Any] | None = getattr(local, "conn", None)
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        conn = psycopg.connect(self._dsn, connect_timeout=self._connect_timeout_s, autocommit=True)
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
            raise StorageError(f"{self.where}: cannot connect: {_why(exc)}") from exc
        try:
            with conn.transaction():
                conn.execute(_WRITE_LOCK)
                yield conn
        except psycopg.Error as exc:
            raise StorageError(f"{self.where}: write failed, nothing changed: {_why(exc)}") from exc

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
        try:
            conn = self._connection()
            with conn.transaction():  # one snapshot for the state and the rows
                state = conn.execute(_STATE).fetchone()
                rows = conn.execute(_LOOKUP, {"c": codes}).fetchall()
                related = conn.execute(_RELATED, {"c": codes}).fetchall() if include_related else []
        except psycopg.Error as exc:
            self._drop_broken()
            raise SourceUnavailable(
                f"cannot read {self.where}: {_why(exc)}", source=self.name
            ) from exc
        as_of = self._fresh(None if state is None else state[0])
        self._speaks = state is not None and state[2] is not None
        subjects: dict[str, Subject] = {}
        records: dict[str, list[CreditRecord]] = {}
        for code, kind, data, _ in rows:
            if kind == 0:
                subjects[code] = Subject.model_validate_json(data)
            else:
                records.setdefault(code, []).append(CreditRecord.model_validate_json(data))
        via: dict[str, list[CreditRecord]] = {}
        for person, org_code, data in related:
            rec = _rules.as_related(CreditRecord.model_validate_json(data), org_code)
            if rec is not None:
                via.setdefault(person, []).append(rec)
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
            raise StorageError(f"cannot read {self.where}: {_why(exc)}") from exc

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
            raise StorageError(f"{self.where}: cannot connect: {_why(exc)}") from exc
        try:
            with conn.transaction() as tx:
                conn.execute(_WRITE_LOCK)
                report = _PgImport(conn, name).run(lines)
                conn.execute(_SET_STATE.format(col="imported_at"), {"t": self._clock()})
                if dry_run:
                    raise psycopg.Rollback(tx)
        except psycopg.Error as exc:
            raise StorageError(
                f"{self.where}: import failed, nothing imported: {_why(exc)}"
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
            raise StorageError(f"{self.where}: cannot take the feed lock: {_why(exc)}") from exc
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


class PostgresFeedState:
    """The push feed's state (like :class:`creditguard.push_feed.FeedState`) in the mirror's database.

    It shares the mirror's connection, so :meth:`commit_page` joins the
    page's transaction (:meth:`PostgresMirror.page`).
    """

    def __init__(self, mirror: PostgresMirror) -> None:
        self.mirror = mirror
        self.path = mirror.where

    def cursor(self, feed: str = "push") -> str | None:
        """The persisted cursor of ``feed`` (None: from the beginning)."""
        with self.mirror.transaction() as c:
            row = c.execute(
                "SELECT cursor FROM mirror_feed_cursor WHERE feed = %(f)s", {"f": feed}
            ).fetchone()
        return None if row is None else str(row[0])

    def applied(self, event_ids: Collection[str]) -> set[str]:
        """Those of ``event_ids`` already applied."""
        if not event_ids:
            return set()
        with self.mirror.transaction() as c:
            rows = c.execute(
                "SELECT event_id FROM mirror_feed_applied WHERE event_id = ANY(%(e)s)",
                {"e": list(event_ids)},
            ).fetchall()
        return {str(r[0]) for r in rows}

    def commit_page(
        self,
        event_ids: Collection[str],
        counts: Mapping[str, int],
        *,
        cursor: str | None,
        settled: Collection[str] = (),
        feed: str = "push",
    ) -> None:
        """Record applied ids, counters and (when given) the new cursor in one transaction."""
        now = time.time()
        with self.mirror.transaction() as c:
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO mirror_feed_applied VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    [(e, now) for e in event_ids],
                )
                cur.executemany(
                    "DELETE FROM mirror_feed_inbox WHERE event_id = %s", [(e,) for e in settled]
                )
                cur.executemany(
                    "INSERT INTO mirror_feed_counters VALUES (%s, %s) ON CONFLICT (name) "
                    "DO UPDATE SET n = mirror_feed_counters.n + EXCLUDED.n",
                    list(counts.items()),
                )
            if cursor is not None:
                c.execute(
                    "INSERT INTO mirror_feed_cursor VALUES (%(f)s, %(c)s) ON CONFLICT (feed) "
                    "DO UPDATE SET cursor = EXCLUDED.cursor",
                    {"f": feed, "c": cursor},
                )
            c.execute(
                "DELETE FROM mirror_feed_applied WHERE applied_at < %(t)s",
                {"t": now - 30 * 86400.0},
            )

    def counters(self) -> dict[str, int]:
        """Totals kept across runs."""
        rows = self.mirror._read("SELECT name, n FROM mirror_feed_counters ORDER BY name")
        return {str(n): int(v) for n, v in rows}

    def store_event(self, event: Any) -> bool:
        """Keep a webhook-delivered event until applied; False when its id was seen already."""
        with self.mirror.transaction() as c:
            if c.execute(
                "SELECT 1 FROM mirror_feed_applied WHERE event_id = %(e)s", {"e": event.event_id}
            ).fetchone():
                return False
            cur = c.execute(
                "INSERT INTO mirror_feed_inbox (event_id, body, received_at) "
                "VALUES (%(e)s, %(b)s, %(t)s) ON CONFLICT DO NOTHING",
                {
                    "e": event.event_id,
                    "b": json.dumps(event.to_dict(), ensure_ascii=False),
                    "t": time.time(),
                },
            )
            return cur.rowcount == 1

    def stored_events(self, limit: int = 1000) -> list[Any]:
        """Webhook events not applied yet, in arrival order."""
        from creditguard.channels import PushEvent

        rows = self.mirror._read(
            "SELECT body FROM mirror_feed_inbox ORDER BY seq LIMIT %(n)s", {"n": limit}
        )
        return [PushEvent.from_dict(json.loads(r[0])) for r in rows]

    def first_use(self, replay_key: str, *, now: float, window_s: float = 900.0) -> bool:
        """Record a pushed request's replay key; False when it was seen within the window."""
        with self.mirror.transaction() as c:
            c.execute(
                "DELETE FROM mirror_feed_replays WHERE seen_at < %(t)s", {"t": now - window_s}
            )
            cur = c.execute(
                "INSERT INTO mirror_feed_replays VALUES (%(k)s, %(t)s) ON CONFLICT DO NOTHING",
                {"k": replay_key, "t": now},
            )
            return cur.rowcount == 1


# --- import ------------------------------------------------------------------------------

_IMPORT_TEMP: Final = """
CREATE TEMP TABLE mirror_import (
    line INTEGER NOT NULL, record_id TEXT NOT NULL, code TEXT NOT NULL, kind TEXT NOT NULL,
    data TEXT NOT NULL, name_given BOOLEAN NOT NULL, name TEXT, rep_given BOOLEAN NOT NULL,
    rep TEXT NOT NULL
) ON COMMIT DROP
"""

# Each refused line with why: a repeated record id, a record id held for another
# subject, or a legal representative that differs from an earlier line of the file.
# The same checks, in the same order, as the SQLite importer's line-by-line pass.
_PROBLEMS: Final = """
WITH firsts AS (
    SELECT i.*, MIN(line) OVER (PARTITION BY record_id) AS first_line FROM mirror_import i
), checked AS (
    SELECT f.*, r.subject_code AS held_by FROM firsts f
    LEFT JOIN mirror_records r ON r.record_id = f.record_id AND f.line = f.first_line
), ok AS (
    SELECT c.*, MIN(line) FILTER (WHERE rep_given) OVER (PARTITION BY code) AS rep_line
    FROM checked c WHERE line = first_line AND (held_by IS NULL OR held_by = code)
)
SELECT line, 'dup', record_id, first_line::text, code, kind FROM checked WHERE line > first_line
UNION ALL
SELECT line, 'conflict', record_id, held_by, code, kind FROM checked
    WHERE line = first_line AND held_by IS NOT NULL AND held_by <> code
UNION ALL
SELECT o.line, 'rep', o.record_id, o.rep_line::text, o.code, o.kind FROM ok o
    JOIN mirror_import first_rep ON first_rep.line = o.rep_line
    WHERE o.rep_given AND o.line > o.rep_line AND o.rep <> first_rep.rep
ORDER BY 1
"""

_SUBJECTS: Final = """
SELECT i.code, i.kind, i.names, i.name_lines, i.rep_line, i.rep, s.data, s.legal_rep
FROM (
    SELECT code, MIN(kind) AS kind,
        array_agg(name ORDER BY line) FILTER (WHERE name_given) AS names,
        array_agg(line ORDER BY line) FILTER (WHERE name_given) AS name_lines,
        MIN(line) FILTER (WHERE rep_given) AS rep_line,
        (array_agg(rep ORDER BY line) FILTER (WHERE rep_given))[1] AS rep,
        MIN(line) AS first_line
    FROM mirror_import GROUP BY code
) i LEFT JOIN mirror_subjects s ON s.code = i.code
ORDER BY i.first_line
"""


class _PgImport:
    """One import: COPY checked lines in, find refused lines in SQL, apply set-wise."""

    def __init__(self, conn: psycopg.Connection[Any], name: str) -> None:
        self.conn = conn
        self.name = name

    def run(self, lines: Iterable[tuple[int, str | None, str | None]]) -> ImportReport:
        conn = self.conn
        conn.execute("DROP TABLE IF EXISTS mirror_import")
        conn.execute(_IMPORT_TEMP)
        count = 0
        refused = 0
        problems: list[tuple[int, str]] = []
        with conn.cursor() as cur, cur.copy("COPY mirror_import FROM STDIN") as copy:
            for lineno, text, problem in lines:
                count += 1
                try:
                    if problem is not None or text is None:
                        raise InvalidRecordError(problem or "unreadable line")
                    ln = parse_line(text)
                except InvalidRecordError as exc:
                    refused += 1
                    if len(problems) < MAX_SHOWN:
                        problems.append((lineno, str(exc)))
                    continue
                copy.write_row(
                    (
                        lineno,
                        ln.record.record_id,
                        ln.code,
                        ln.kind,
                        ln.record.model_dump_json(),
                        ln.name_given,
                        ln.name,
                        ln.rep_given,
                        importer.rep_json(ln.rep),
                    )
                )
        conn.execute("ANALYZE mirror_import")
        sql_refused, sql_problems = self._problems()
        refused += sql_refused
        if refused:
            shown = heapq.nsmallest(MAX_SHOWN, [*problems, *sql_problems])
            texts = tuple(f"{self.name}:{n}: {msg}" for n, msg in shown)
            raise importer.refused(self.name, refused, count, texts)
        if count == 0:
            raise importer.empty(self.name)
        return self._apply(count)

    def _problems(self) -> tuple[int, list[tuple[int, str]]]:
        shown: list[tuple[int, str]] = []
        n = 0
        with self.conn.cursor() as cur:
            for line, why, rid, other, code, kind in cur.execute(_PROBLEMS):
                n += 1
                if len(shown) >= MAX_SHOWN:
                    continue
                if why == "dup":
                    msg = importer.duplicate_text(rid, other)
                elif why == "conflict":
                    msg = conflict_text(rid, other, code)
                else:
                    msg = importer.rep_differs_text(code, kind, other)
                shown.append((int(line), str(InvalidRecordError(msg))))
        return n, shown

    def _apply(self, count: int) -> ImportReport:
        conn = self.conn
        added, updated, unchanged = conn.execute(
            "SELECT COUNT(*) FILTER (WHERE r.record_id IS NULL), "
            "COUNT(*) FILTER (WHERE r.data <> i.data), COUNT(*) FILTER (WHERE r.data = i.data) "
            "FROM mirror_import i LEFT JOIN mirror_records r ON r.record_id = i.record_id"
        ).fetchone() or (0, 0, 0)
        conn.execute(
            "INSERT INTO mirror_records (record_id, subject_code, data) "
            "SELECT record_id, code, data FROM mirror_import ORDER BY line "
            "ON CONFLICT (record_id) DO UPDATE SET data = EXCLUDED.data "
            "WHERE mirror_records.data <> EXCLUDED.data"
        )
        t = _SubjectTally()
        conn.execute(
            "CREATE TEMP TABLE mirror_import_subjects (code TEXT, kind TEXT, data TEXT, "
            "legal_rep TEXT, ord INTEGER) ON COMMIT DROP"
        )
        n = 0
        with conn.cursor(name="mirror_import_subjects_read") as read, conn.cursor() as w:
            read.execute(_SUBJECTS)
            # Chunk by chunk: a COPY holds the connection, so reading and writing alternate.
            while chunk := read.fetchmany(5000):
                with w.copy("COPY mirror_import_subjects FROM STDIN") as copy:
                    for row in chunk:
                        out = t.subject(*row)
                        n += 1
                        if out is not None:
                            copy.write_row((*out, n))
        conn.execute(
            "INSERT INTO mirror_subjects (code, kind, data, legal_rep) "
            "SELECT code, kind, data, legal_rep FROM mirror_import_subjects ORDER BY ord "
            "ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, data = EXCLUDED.data, "
            "legal_rep = EXCLUDED.legal_rep"
        )
        return ImportReport(
            lines=count,
            added=int(added),
            updated=int(updated),
            unchanged=int(unchanged),
            subjects=t.subjects,
            subjects_added=t.added,
            subjects_updated=t.updated,
            links_set=t.links.links_set,
            links_changed=t.links.links_changed,
            links_removed=t.links.links_removed,
            link_changes=tuple(c for _, c in sorted(t.changes)),
        )


class _SubjectTally:
    """Subjects' new data and link changes, one aggregated row per subject of the file."""

    def __init__(self) -> None:
        self.subjects = self.added = self.updated = 0
        self.links = importer.LinkCounts()
        # The first MAX_SHOWN link changes by line: a max-heap of (-line, change).
        self._heap: list[tuple[int, int, LinkChange]] = []
        self._n = 0

    @property
    def changes(self) -> list[tuple[int, LinkChange]]:
        return [(-neg, c) for neg, _, c in self._heap]

    def subject(
        self,
        code: str,
        kind: str,
        names: list[str | None] | None,
        name_lines: list[int] | None,
        rep_line: int | None,
        rep: str | None,
        held: str | None,
        old_link: str | None,
    ) -> tuple[str, str, str, str | None] | None:
        self.subjects += 1
        before = Subject.model_validate_json(held) if held is not None else None
        base = before or Subject(code=code, kind=kind)
        rep_update: dict[str, Any] = {}
        if rep_line is not None:
            rep_update["legal_representative"] = (
                None if rep in (None, "null") else RelatedPerson.model_validate_json(rep or "")
            )
        names = names or []
        changed_on_the_way = False
        if len(names) > 1:
            # A name given more than once may change and change back: the SQLite importer
            # counts a subject updated when any line changed it, so replay the lines.
            state, at = base, held
            for line, name in zip(name_lines or [], names, strict=True):
                upd: dict[str, Any] = {"kind": kind, "name": name}
                if rep_line is not None and rep_line <= line and "applied" not in rep_update:
                    upd.update(rep_update)
                    rep_update["applied"] = True
                state = state.model_copy(update=upd)
                data_now = state.model_dump_json(exclude_none=True)
                changed_on_the_way = changed_on_the_way or data_now != at
                at = data_now
            rep_update.pop("applied", None)
        update: dict[str, Any] = {"kind": kind, **rep_update}
        if names:
            update["name"] = names[-1]
        after = base.model_copy(update=update)
        data = after.model_dump_json(exclude_none=True)
        new_link = after.legal_representative.code if after.legal_representative else None
        change = importer.link_change(code, kind, old_link, new_link, int(rep_line or 0))
        if change is not None:
            self.links.count(change)
            self._n += 1
            item = (-change.line, self._n, change)
            if len(self._heap) < MAX_SHOWN:
                heapq.heappush(self._heap, item)
            elif change.line < -self._heap[0][0]:
                heapq.heapreplace(self._heap, item)
        if held is None:
            self.added += 1
        elif held != data or changed_on_the_way:
            self.updated += 1
        if held == data:
            return None
        return code, kind, data, new_link


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
