"""The local mirror: credit records kept in a SQLite file, looked up by code.

It is the embedded default source (type ``mirror``): a guard works offline
from it, ``creditguard mirror import`` loads records into it, and push sync
keeps it current. Connections are per thread and re-opened after ``fork``.

A mirror only answers for data it can vouch for. It records when it was
last loaded (a successful import, or a sync: an empty poll counts), and a
lookup raises :class:`~creditguard.errors.SourceUnavailable` when it has
never been loaded, when that was longer ago than ``max_age_s``, or when its
file does not exist (a check never creates it: a typo in ``path`` must not
read as a clean list). Removed records stay as tombstones with their
``status_history``, so replays of past days stay exact.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Final

from creditguard._files import prepare_private_file
from creditguard.clock import CST
from creditguard.errors import SourceUnavailable, StorageError
from creditguard.forksafe import PerThread
from creditguard.mirror import _filter, _rules
from creditguard.mirror._filter_keeper import FilterKeeper
from creditguard.mirror._push import PushEvents
from creditguard.mirror._rules import DEFAULT_MAX_AGE_S, MirrorStats, carry_history
from creditguard.mirror.importer import ImportReport, run_import
from creditguard.models import CreditRecord, Subject, SubjectRecords, trusted

__all__ = ["DEFAULT_MAX_AGE_S", "MirrorStats", "SqliteMirror", "carry_history"]

#: How often a reading connection re-checks that its file is still the one on disk.
_RECHECK_S: Final = 1.0

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS subjects (
    code TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    legal_rep TEXT
);
CREATE INDEX IF NOT EXISTS subjects_legal_rep ON subjects(legal_rep) WHERE legal_rep IS NOT NULL;
CREATE TABLE IF NOT EXISTS records (
    record_id TEXT PRIMARY KEY,
    subject_code TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_subject ON records(subject_code);
CREATE TABLE IF NOT EXISTS mirror_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    loaded_at REAL NOT NULL,
    imported_at REAL,
    synced_at REAL
);
"""
    + _filter.SCHEMA
)

# One statement, three index probes: the subject row (kind 0), its records (kind 1) and the
# mirror's last load (kind 2 when only imported from files, 3 once synced from the platform).
_LOOKUP = (
    "SELECT 0, data FROM subjects WHERE code = ?1 "
    "UNION ALL SELECT 1, data FROM records WHERE subject_code = ?1 "
    "UNION ALL SELECT 2 + (synced_at IS NOT NULL), loaded_at FROM mirror_state"
)
_SET_STATE = (
    "INSERT INTO mirror_state(id, loaded_at, {col}) VALUES (1, ?1, ?1) "
    "ON CONFLICT(id) DO UPDATE SET loaded_at = excluded.loaded_at, {col} = excluded.{col}"
)


class SqliteMirror(FilterKeeper, PushEvents):
    """Records in a SQLite file; implements the LocalSource protocol.

    ``max_age_s`` bounds how old the last import or sync may be for a lookup
    to answer; ``clock`` (seconds since the epoch) is for tests.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str = "mirror",
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_age_s = _rules.checked_max_age(max_age_s)
        self.name = name
        self.path = Path(path)
        self._clock = clock
        # each thread's connection; a forked child starts afresh
        self._per_thread = PerThread()
        self._speaks: bool | None = None
        self._as_of: tuple[float, datetime] = (math.nan, datetime.min)
        # The membership filter (see creditguard.mirror._filter_keeper), shared by the threads.
        self._init_filter()
        # Commits through this object: a write on a reader's own connection does not
        # change that connection's data_version, so the filter's readers count these too.
        self._writes = 0

    def __repr__(self) -> str:
        return f"SqliteMirror({str(self.path)!r})"

    # -- connections -------------------------------------------------------------

    def _thread(self) -> threading.local:
        return self._per_thread.get()

    def _open(self, *, create: bool) -> sqlite3.Connection:
        if create:
            self._create_file()
            conn = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=True
            )
        else:
            # mode=rw: a missing file is an error, never silently created empty.
            uri = self.path.absolute().as_uri() + "?mode=rw"
            conn = sqlite3.connect(
                uri, uri=True, timeout=10.0, isolation_level=None, check_same_thread=True
            )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            # Lookups are random reads by code: map the file and keep a large page
            # cache so an indexed probe costs no system call once pages are warm.
            conn.execute("PRAGMA mmap_size=1073741824")
            conn.execute("PRAGMA cache_size=-65536")
            conn.executescript(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return conn

    def _create_file(self) -> None:
        # Owner-only (0600, folders 0700), created before SQLite sees it: it holds persons' records.
        prepare_private_file(self.path)

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def _connection(self, *, create: bool) -> sqlite3.Connection:
        local = self._thread()
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        now = time.monotonic()
        # Readers re-check the file at most once a second; writers every time (a write
        # into a deleted file's inode would be lost).
        if conn is not None and not create and now - local.checked < _RECHECK_S:
            return conn
        ident = self._identity()
        if conn is not None and ident != local.ident:
            self._drop(local)  # deleted or replaced (a fresh import elsewhere): reopen
            conn = None
        if conn is None:
            if ident is None and not create:
                raise self._missing()
            try:
                conn = self._open(create=create)
            except sqlite3.OperationalError as exc:
                if not create and self._identity() is None:
                    raise self._missing() from exc
                raise
            local.conn = conn
            local.ident = self._identity()
        local.checked = now
        return conn

    @staticmethod
    def _drop(local: threading.local) -> None:
        conn = getattr(local, "conn", None)
        if conn is not None:
            conn.close()
        local.conn = None
        local.filter_seen = None  # a new connection's data_version starts afresh
        shm = getattr(local, "shm", None)
        if shm is not None:  # mapped for that connection's file
            shm.close()
        local.shm = None

    def _missing(self) -> SourceUnavailable:
        return SourceUnavailable(
            f"mirror file {self.path} does not exist (check the source's path or data_dir); "
            "load it with `creditguard mirror import` or `creditguard sync`",
            source=self.name,
        )

    @property
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, creating the file if needed (writers, tests)."""
        return self._connection(create=True)

    def close(self) -> None:
        """Close this thread's connection."""
        self._drop(self._thread())

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: everything inside commits together or not at all."""
        try:
            conn = self._connection(create=True)
            conn.execute("BEGIN IMMEDIATE")
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"mirror {self.path}: cannot begin a transaction: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StorageError(f"mirror {self.path}: commit failed: {exc}") from exc
            finally:
                self._writes += 1

    # -- reading -----------------------------------------------------------------

    def lookup(
        self, codes: Sequence[str], *, include_related: bool = False
    ) -> Mapping[str, SubjectRecords]:
        """Records of each code (tombstones included); for persons with ``include_related``, their organizations' too.

        Raises :class:`SourceUnavailable` when the file is missing, was never
        loaded or was last loaded longer ago than ``max_age_s``. Every answer
        carries ``data_as_of``, the last load time (China Standard Time).
        """
        try:
            conn = self._connection(create=False)
            return self._lookup(conn, codes, include_related)
        except sqlite3.Error as exc:
            raise SourceUnavailable(
                f"cannot read mirror {self.path}: {exc}", source=self.name
            ) from exc

    def absent(self, code: str) -> datetime | None:
        """The data time, when the membership filter says the mirror holds nothing for ``code``.

        None when it may hold something, or the filter is not built yet, or
        the file cannot be read or is too old (the lookup that follows says
        why). A legal representative's code is in the filter too, so a person
        absent here represents no organisation the mirror holds either.
        """
        try:
            current = self._current_filter(self._connection(create=False))
            if current is None:
                return None
            flt, (last_load, synced) = current
            if flt.might_hold(code):
                return None
            as_of = self._fresh(last_load)
        except (SourceUnavailable, sqlite3.Error):
            return None
        self._speaks = synced
        return as_of

    def _lookup(
        self, conn: sqlite3.Connection, codes: Sequence[str], include_related: bool
    ) -> dict[str, SubjectRecords]:
        out: dict[str, SubjectRecords] = {}
        current = self._current_filter(conn)
        if current is not None:
            flt, (last_load, synced) = current
            clean_as_of: datetime | None = None
            held: list[str] = []
            for code in codes:
                if flt.might_hold(code):
                    held.append(code)
                    continue
                # Not in the mirror: the answer a lookup would give, without SQL.
                if clean_as_of is None:
                    clean_as_of = self._fresh(last_load)
                    self._speaks = synced
                out[code] = trusted(
                    SubjectRecords,
                    code=code,
                    subject=None,
                    records=(),
                    found=False,
                    possible_matches=(),
                    data_as_of=clean_as_of,
                )
            if not held:
                return out
            if out:  # answers in the order asked, as without the filter
                asked, codes = codes, held
                self._lookup_sql(conn, codes, include_related, out)
                return {code: out[code] for code in asked}
            codes = held
        self._lookup_sql(conn, codes, include_related, out)
        return out

    def _lookup_sql(
        self,
        conn: sqlite3.Connection,
        codes: Sequence[str],
        include_related: bool,
        out: dict[str, SubjectRecords],
    ) -> None:
        for code in codes:
            rows = conn.execute(_LOOKUP, (code,)).fetchall()
            subject = None
            records: list[CreditRecord] = []
            loaded: float | None = None
            synced = False
            for kind, data in rows:
                if kind == 1:
                    records.append(CreditRecord.model_validate_json(data))
                elif kind == 0:
                    subject = Subject.model_validate_json(data)
                else:
                    loaded, synced = data, kind == 3
            as_of = self._fresh(loaded)
            self._speaks = synced
            found = subject is not None or bool(records)
            if include_related:
                records.extend(self._related(conn, code))
            out[code] = trusted(
                SubjectRecords,
                code=code,
                subject=subject,
                records=tuple(records),
                found=found or bool(records),
                possible_matches=(),
                data_as_of=as_of,
            )

    def _fresh(self, loaded: float | None) -> datetime:
        """The last load as a CST datetime, or :class:`SourceUnavailable` when it does not vouch."""
        if loaded is None:
            raise _rules.never_loaded(f"mirror {self.path}", self.name)
        cached_at, as_of = self._as_of
        if cached_at != loaded:
            as_of = datetime.fromtimestamp(loaded, CST)
            self._as_of = (loaded, as_of)
        _rules.check_fresh(
            loaded,
            as_of,
            now=self._clock(),
            max_age_s=self.max_age_s,
            where=f"mirror {self.path}",
            source=self.name,
        )
        return as_of

    def _related(self, conn: sqlite3.Connection, person_code: str) -> list[CreditRecord]:
        related: list[CreditRecord] = []
        orgs = conn.execute(
            "SELECT code FROM subjects WHERE legal_rep = ?", (person_code,)
        ).fetchall()
        for (org_code,) in orgs:
            for (data,) in conn.execute(
                "SELECT data FROM records WHERE subject_code = ?", (org_code,)
            ):
                rec = _rules.as_related(CreditRecord.model_validate_json(data), org_code)
                if rec is not None:
                    related.append(rec)
        return related

    @property
    def speaks_for_platform(self) -> bool:
        """True once the mirror is kept from the platform's push feed (spec §4.0), False when only loaded from files."""
        if self._speaks is None:
            try:
                self._speaks = self.stats().speaks_for_platform
            except (SourceUnavailable, StorageError):
                return False
        return self._speaks

    def count(self) -> tuple[int, int]:
        """Number of subjects and records held (tombstones of removed records included)."""
        try:
            conn = self._connection(create=True)
            subjects = conn.execute("SELECT COUNT(*) FROM subjects").fetchone()[0]
            records = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot read mirror {self.path}: {exc}") from exc
        return int(subjects), int(records)

    def stats(self) -> MirrorStats:
        """Counts and load times; :class:`SourceUnavailable` when the file does not exist."""
        try:
            conn = self._connection(create=False)
            subjects = conn.execute("SELECT COUNT(*) FROM subjects").fetchone()[0]
            records = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            removed = conn.execute(
                "SELECT COUNT(*) FROM records WHERE json_extract(data, '$.status') = 'removed'"
            ).fetchone()[0]
            state = conn.execute(
                "SELECT loaded_at, imported_at, synced_at FROM mirror_state"
            ).fetchone()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read mirror {self.path}: {exc}") from exc
        return _rules.stats(subjects, records, removed, state)

    def subject_of(self, record_id: str) -> str | None:
        """The subject code a record (or its tombstone) belongs to, if held."""
        try:
            conn = self._connection(create=False)
        except SourceUnavailable:
            return None
        row = conn.execute(
            "SELECT subject_code FROM records WHERE record_id = ?", (record_id,)
        ).fetchone()
        return str(row[0]) if row else None

    # -- loading -----------------------------------------------------------------

    def mark_synced(self) -> None:
        """Record a successful sync from the platform's push feed (an empty poll counts).

        The sync code calls this after it has read the feed to its end; the
        mirror then vouches for its data for ``max_age_s`` and speaks for the
        platform (spec §4.0).
        """
        with self.transaction() as conn:
            conn.execute(_SET_STATE.format(col="synced_at"), (self._clock(),))
        self._speaks = True

    def mark_imported(self) -> None:
        """Record that records were loaded by other means (a bulk load) and are current now."""
        with self.transaction() as conn:
            conn.execute(_SET_STATE.format(col="imported_at"), (self._clock(),))

    def import_jsonl(self, path: str | os.PathLike[str], *, dry_run: bool = False) -> ImportReport:
        """Import ``{"subject": {...}, "record": {...}}`` lines; all or nothing, streamed.

        Every line is checked (see :mod:`creditguard.mirror.lines`); one bad
        line, a record id held for another subject, or an empty file raises
        :class:`~creditguard.mirror.ImportRefused` naming each line (up to
        20), and nothing is imported. Importing the same file twice reports
        ``changed == 0``. A successful import counts as a load. ``dry_run``
        checks and reports without keeping anything.
        """
        with _rules.file_lines(path) as lines:
            return self._import(lines, name=str(Path(path)), dry_run=dry_run)

    def import_lines(
        self, lines: Iterable[str | bytes], *, name: str = "<input>", dry_run: bool = False
    ) -> ImportReport:
        """Import lines given in memory (same rules as :meth:`import_jsonl`)."""
        return self._import(_rules.memory_lines(lines), name=name, dry_run=dry_run)

    def _import(
        self, lines: Iterable[tuple[int, str | None, str | None]], *, name: str, dry_run: bool
    ) -> ImportReport:
        # A connection of its own: no memory map and a modest page cache, so a
        # million-line import keeps a flat resident size.
        try:
            self._create_file()
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open mirror {self.path}: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA cache_size=-16384")
            conn.executescript(_SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            try:
                report = run_import(conn, lines, name=name)
                conn.execute(_SET_STATE.format(col="imported_at"), (self._clock(),))
                for statement in _filter.NEW_EPOCH:  # readers' filters are built again
                    conn.execute(statement)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("ROLLBACK" if dry_run else "COMMIT")
            self._writes += 1
        except sqlite3.Error as exc:
            raise StorageError(
                f"mirror {self.path}: import failed, nothing imported: {exc}"
            ) from exc
        finally:
            conn.close()
        return report
