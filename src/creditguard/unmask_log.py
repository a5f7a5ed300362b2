"""The unmask log: a durable note each time personal data is shown unmasked (``--unmask``).

(Not to be confused with public disclosures under spec §11: creditguard.supervision.disclosure.)

Default output masks resident ID numbers (README, "Personal data"). An officer
may need the whole number; the commands that offer ``--unmask`` first write a
row here, in the decision journal's file (table ``unmask_log``), and show
nothing unmasked when that write fails. The row names who (the operating-system
user), when (China Standard Time), which command, the decision shown if any,
and the subjects, themselves masked: it records that a number was shown, not
which one.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from creditguard._files import prepare_private_file
from creditguard.clock import CST
from creditguard.errors import StorageError
from creditguard.masking import mask_code

__all__ = ["read_unmaskings", "record_unmasking"]

_TABLE = """
CREATE TABLE IF NOT EXISTS unmask_log (
    at TEXT NOT NULL,        -- ISO time, China Standard Time
    actor TEXT NOT NULL,     -- the operating-system user
    command TEXT NOT NULL,   -- e.g. "check --unmask"
    subjects TEXT NOT NULL,  -- JSON list of the codes shown, masked
    decision_id TEXT         -- the decision shown, when there is one
)
"""


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def record_unmasking(
    path: str | os.PathLike[str],
    *,
    command: str,
    subjects: list[str],
    decision_id: str | None = None,
) -> None:
    """Durably record that ``command`` shows ``subjects`` unmasked.

    Call it before showing anything; raises :class:`StorageError` when the
    row cannot be written (then show nothing unmasked), and for a PostgreSQL
    DSN: the log is kept in SQLite journal files only, not yet in PostgreSQL.
    """
    from creditguard.journal_pg import is_dsn

    if is_dsn(path):  # a DSN is no file name: refuse rather than write a stray file
        raise StorageError(
            "cannot record the disclosure: the unmask log is kept in a SQLite journal file, "
            "not in the PostgreSQL journal"
        )
    row = (
        datetime.now(CST).isoformat(timespec="seconds"),
        _actor(),
        command,
        json.dumps([mask_code(s) for s in subjects], ensure_ascii=False),
        decision_id,
    )
    try:
        prepare_private_file(path)
        conn = sqlite3.connect(path, timeout=10.0)
        try:
            with conn:
                conn.execute("PRAGMA busy_timeout = 10000")
                conn.execute(_TABLE)
                conn.execute("INSERT INTO unmask_log VALUES (?, ?, ?, ?, ?)", row)
        finally:
            conn.close()
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"{path}: cannot record the disclosure: {exc}") from exc


def read_unmaskings(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Recorded unmaskings, oldest first (empty when there are none)."""
    p = Path(path)
    if not p.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            has = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'unmask_log'"
            ).fetchone()
            rows = conn.execute("SELECT * FROM unmask_log ORDER BY at").fetchall() if has else []
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read the unmask log in {p}: {exc}") from exc
    return [
        {
            "at": r[0],
            "actor": r[1],
            "command": r[2],
            "subjects": json.loads(r[3]),
            "decision_id": r[4],
        }
        for r in rows
    ]
