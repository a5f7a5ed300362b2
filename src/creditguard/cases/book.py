"""The book of platform-initiated cases this unit accepted, open until fed back."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from creditguard._files import prepare_private_file
from creditguard.errors import StorageError

__all__ = ["CaseBook", "PlatformCase", "SqliteCaseBook"]


@dataclass(frozen=True, slots=True)
class PlatformCase:
    """A case the platform pushed (``case.initiated``) and this unit accepted measures of."""

    case_id: str
    subject_code: str
    accepted: tuple[str, ...]
    region: str = ""


class CaseBook(Protocol):
    """Where open platform-initiated cases are kept until fed back."""

    def add(self, case: PlatformCase) -> None: ...

    def open_for(self, subject_code: str) -> list[PlatformCase]: ...

    def fed_back(self, case_id: str, measure_codes: Iterable[str]) -> None: ...


class SqliteCaseBook:
    """Open platform cases in SQLite, shared by the sync process and the workflow processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        prepare_private_file(self.path)  # owner-only: it holds personal data
        with self._tx() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS creditguard_platform_cases (case_id TEXT PRIMARY KEY, "
                "subject_code TEXT NOT NULL, accepted TEXT NOT NULL, region TEXT NOT NULL, "
                "pending TEXT NOT NULL, received_at REAL NOT NULL)"
            )
            c.execute(
                "CREATE INDEX IF NOT EXISTS creditguard_platform_cases_subject "
                "ON creditguard_platform_cases (subject_code)"
            )

    def _tx(self) -> _SqliteTx:
        return _SqliteTx(self.path, self._lock)

    def add(self, case: PlatformCase) -> None:
        """Keep ``case`` open until every accepted measure is fed back (re-adding is a no-op)."""
        with self._tx() as c:
            c.execute(
                "INSERT INTO creditguard_platform_cases VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (case_id) DO NOTHING",
                (
                    case.case_id,
                    case.subject_code,
                    json.dumps(case.accepted),
                    case.region,
                    json.dumps(case.accepted),
                    time.time(),
                ),
            )

    def open_for(self, subject_code: str) -> list[PlatformCase]:
        """Open cases of the subject, with the measures not fed back yet, oldest first."""
        with self._tx() as c:
            rows = c.execute(
                "SELECT case_id, subject_code, pending, region FROM creditguard_platform_cases "
                "WHERE subject_code = ? ORDER BY received_at",
                (subject_code,),
            ).fetchall()
        return [PlatformCase(r[0], r[1], tuple(json.loads(r[2])), r[3]) for r in rows]

    def fed_back(self, case_id: str, measure_codes: Iterable[str]) -> None:
        """Note feedback for ``measure_codes``; the case closes when none is left."""
        done = set(measure_codes)
        with self._tx() as c:
            row = c.execute(
                "SELECT pending FROM creditguard_platform_cases WHERE case_id = ?", (case_id,)
            ).fetchone()
            if row is None:
                return
            left = [m for m in json.loads(row[0]) if m not in done]
            if left:
                c.execute(
                    "UPDATE creditguard_platform_cases SET pending = ? WHERE case_id = ?",
                    (json.dumps(left), case_id),
                )
            else:
                c.execute("DELETE FROM creditguard_platform_cases WHERE case_id = ?", (case_id,))


class _SqliteTx:
    """A short immediate transaction on a fresh connection (simple and fork-safe)."""

    def __init__(self, path: Path, lock: threading.Lock) -> None:
        self._path = path
        self._lock = lock
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._conn = sqlite3.connect(self._path, isolation_level=None, timeout=10.0)
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._lock.release()
            raise StorageError(f"case book {self._path}: {exc}") from exc
        return self._conn

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        assert self._conn is not None
        try:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        except sqlite3.Error as err:
            raise StorageError(f"case book {self._path}: {err}") from err
        finally:
            self._conn.close()
            self._lock.release()
