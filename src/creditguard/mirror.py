"""The local mirror: credit records kept in a SQLite file, looked up by code.

It is the embedded default source (type ``mirror``): a guard works offline
from it, ``creditguard mirror import`` loads records into it, and push sync
keeps it current. Connections are per thread and re-opened after ``fork``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from creditguard._files import prepare_private_file
from creditguard.codes import parse_code
from creditguard.errors import InvalidCodeError, InvalidRecordError, StorageError
from creditguard.models import CreditRecord, Subject, SubjectRecords, trusted

__all__ = ["ImportReport", "SqliteMirror"]

_SCHEMA = """
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
"""

_MAX_REPORTED = 20
_LOOKUP = (
    "SELECT 0, data FROM subjects WHERE code = ?1 "
    "UNION ALL SELECT 1, data FROM records WHERE subject_code = ?1"
)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: lines read, records inserted or replaced, subjects touched."""

    lines: int
    records: int
    subjects: int


class SqliteMirror:
    """Records in a SQLite file; implements the LocalSource protocol."""

    def __init__(self, path: str | os.PathLike[str], *, name: str = "mirror") -> None:
        self.name = name
        self.path = Path(path)
        self._local = threading.local()
        self._pid = os.getpid()
        try:
            prepare_private_file(self.path)  # owner-only: it holds personal data
            with self._connect() as conn:
                conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open mirror {self.path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SqliteMirror({str(self.path)!r})"

    # -- connections -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=10.0, isolation_level=None, check_same_thread=True
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        # Lookups are random reads by code: map the file and keep a large page
        # cache so an indexed probe costs no system call once pages are warm.
        conn.execute("PRAGMA mmap_size=1073741824")
        conn.execute("PRAGMA cache_size=-65536")
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._pid != os.getpid():
            if self._pid != os.getpid():  # a forked child must not share the parent's handle
                self._local = threading.local()
                self._pid = os.getpid()
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: everything inside commits together or not at all."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
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

    # -- reading -----------------------------------------------------------------

    def lookup(
        self, codes: Sequence[str], *, include_related: bool = False
    ) -> Mapping[str, SubjectRecords]:
        """Records of each code; for persons with ``include_related``, their organizations' too."""
        conn = self._conn
        out: dict[str, SubjectRecords] = {}
        for code in codes:
            # One statement, two index probes: the subject row (kind 0) and its records (kind 1).
            rows = conn.execute(_LOOKUP, (code,)).fetchall()
            subject = None
            records: list[CreditRecord] = []
            for kind, data in rows:
                if kind == 0:
                    subject = Subject.model_validate_json(data)
                else:
                    records.append(CreditRecord.model_validate_json(data))
            if include_related:
                records.extend(self._related(conn, code))
            out[code] = trusted(
                SubjectRecords,
                code=code,
                subject=subject,
                records=tuple(records),
                found=bool(rows) or bool(records),
                possible_matches=(),
                data_as_of=None,
            )
        return out

    def _related(self, conn: sqlite3.Connection, person_code: str) -> list[CreditRecord]:
        related: list[CreditRecord] = []
        orgs = conn.execute(
            "SELECT code FROM subjects WHERE legal_rep = ?", (person_code,)
        ).fetchall()
        for (org_code,) in orgs:
            for (data,) in conn.execute(
                "SELECT data FROM records WHERE subject_code = ?", (org_code,)
            ):
                rec = CreditRecord.model_validate_json(data)
                if rec.role == "self":
                    related.append(
                        rec.model_copy(update={"role": "legal_representative", "via": org_code})
                    )
        return related

    def count(self) -> tuple[int, int]:
        """Number of subjects and records held."""
        conn = self._conn
        subjects = conn.execute("SELECT COUNT(*) FROM subjects").fetchone()[0]
        records = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        return int(subjects), int(records)

    # -- writing -----------------------------------------------------------------

    def upsert(
        self, subject: Subject | None, record: CreditRecord, *, subject_code: str | None = None
    ) -> None:
        """Insert or replace one record (and its subject), in its own transaction."""
        code = subject.code if subject is not None else subject_code
        if code is None:
            raise InvalidRecordError("upsert needs a subject or a subject_code")
        with self.transaction() as conn:
            self._write(conn, code, subject, record)

    def remove(self, record_id: str) -> bool:
        """Delete one record; True when it existed."""
        with self.transaction() as conn:
            cur = conn.execute("DELETE FROM records WHERE record_id = ?", (record_id,))
            return cur.rowcount > 0

    def subject_of(self, record_id: str) -> str | None:
        """The subject code a record belongs to, if held."""
        row = self._conn.execute(
            "SELECT subject_code FROM records WHERE record_id = ?", (record_id,)
        ).fetchone()
        return str(row[0]) if row else None

    @staticmethod
    def _write(
        conn: sqlite3.Connection, code: str, subject: Subject | None, record: CreditRecord
    ) -> None:
        if subject is not None:
            legal_rep = subject.legal_representative.code if subject.legal_representative else None
            conn.execute(
                "INSERT INTO subjects(code, kind, data, legal_rep) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(code) DO UPDATE SET kind=excluded.kind, data=excluded.data, legal_rep=excluded.legal_rep",
                (code, subject.kind, subject.model_dump_json(exclude_none=True), legal_rep),
            )
        conn.execute(
            "INSERT OR REPLACE INTO records(record_id, subject_code, data) VALUES (?, ?, ?)",
            (record.record_id, code, record.model_dump_json()),
        )

    def import_jsonl(self, path: str | os.PathLike[str]) -> ImportReport:
        """Import ``{"subject": {...}, "record": {...}}`` lines; all or nothing.

        Every line is validated before anything is written; bad lines raise
        :class:`InvalidRecordError` naming each line (up to 20). Importing the
        same file twice changes nothing (records are keyed by ``record_id``).
        """
        p = Path(path)
        try:
            with p.open(encoding="utf-8") as fh:
                rows = list(parse_lines(fh, name=str(p)))
        except OSError as exc:
            raise InvalidRecordError(f"cannot read: {exc.strerror}", path=str(p)) from exc
        except UnicodeDecodeError as exc:
            raise InvalidRecordError(f"not UTF-8 text ({exc.reason})", path=str(p)) from exc
        return self.import_rows(rows, lines=_count_lines(p))

    def import_rows(
        self, rows: Iterable[tuple[Subject, CreditRecord]], *, lines: int = 0
    ) -> ImportReport:
        """Write already-validated rows in one transaction."""
        rows = list(rows)
        subjects = set()
        with self.transaction() as conn:
            for subject, record in rows:
                self._write(conn, subject.code, subject, record)
                subjects.add(subject.code)
        return ImportReport(lines=lines or len(rows), records=len(rows), subjects=len(subjects))


def _count_lines(p: Path) -> int:
    with p.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def parse_lines(
    lines: Iterable[str], *, name: str = "<input>"
) -> Iterator[tuple[Subject, CreditRecord]]:
    """Validate JSONL lines of ``{"subject", "record"}``; raise once naming every bad line."""
    good: list[tuple[Subject, CreditRecord]] = []
    bad: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            good.append(_parse_row(line, seen, lineno))
        except InvalidRecordError as exc:
            bad.append(f"{name}:{lineno}: {exc}")
    if bad:
        shown = "\n".join(bad[:_MAX_REPORTED])
        more = (
            f"\n... and {len(bad) - _MAX_REPORTED} more bad lines"
            if len(bad) > _MAX_REPORTED
            else ""
        )
        raise InvalidRecordError(
            f"{len(bad)} bad line(s), nothing imported:\n{shown}{more}", path=name
        )
    yield from good


def _parse_row(line: str, seen: dict[str, int], lineno: int) -> tuple[Subject, CreditRecord]:
    try:
        obj: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidRecordError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict) or "subject" not in obj or "record" not in obj:
        raise InvalidRecordError('expected an object with "subject" and "record"') from None
    subj = obj["subject"]
    if not isinstance(subj, dict) or "code" not in subj:
        raise InvalidRecordError('"subject" needs a "code"') from None
    try:
        sc = parse_code(str(subj["code"]))
    except InvalidCodeError as exc:
        raise InvalidRecordError(f"subject.code: {exc}") from None
    try:
        subject = Subject.model_validate(
            {**subj, "code": sc.code, "kind": subj.get("kind", sc.kind)}
        )
        record = CreditRecord.model_validate(obj["record"])
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        part = "record" if exc.title == "CreditRecord" else "subject"
        raise InvalidRecordError(f"{part}.{loc}: {err['msg']}") from None
    if subject.kind != sc.kind:
        raise InvalidRecordError(f"subject.kind is {subject.kind} but the code is a {sc.kind}'s")
    if record.expires_on is not None and record.expires_on < record.listed_on:
        raise InvalidRecordError("record.expires_on is before record.listed_on")
    first = seen.setdefault(record.record_id, lineno)
    if first != lineno:
        raise InvalidRecordError(f"record_id {record.record_id} already appears on line {first}")
    return subject, record
