"""Data files holding personal data are owner-only (0600), with their SQLite side files.

SQLite gives ``-wal`` and ``-shm`` files the mode of the database file, so the
tests look at every file in the folder after real writes, under the common
umask 022 that made them 0644 before.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from creditguard._files import prepare_private_file
from creditguard.cases import SqliteCaseBook
from creditguard.journal import DecisionJournal
from creditguard.mirror import SqliteMirror
from creditguard.models import Decision
from creditguard.outbox import SqliteOutbox
from creditguard.push_feed import FeedState

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@pytest.fixture(autouse=True)
def _umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir() if p.is_file()}


def _decision() -> Decision:
    return Decision.model_validate(
        {
            "decision_id": "d-1",
            "subject_code": "91110000710925462X",
            "subject_kind": "organization",
            "step": "procurement.bid",
            "region": "320100",
            "as_of": "2025-06-01",
            "outcome": "allow",
            "decided_at": datetime(2025, 6, 1, tzinfo=UTC),
        }
    )


def _journal(path: Path) -> None:
    j = DecisionJournal(path)
    j.append(_decision())
    j.flush()
    j.close()


def _outbox(path: Path) -> None:
    box = SqliteOutbox(path)  # writes its schema
    box.status(now=0.0)
    box.close()


def _mirror(path: Path) -> None:
    m = SqliteMirror(path)
    m.count()
    m.close()


def _sync(path: Path) -> None:
    FeedState(path)


def _cases(path: Path) -> None:
    SqliteCaseBook(path)


@pytest.mark.parametrize(
    "make", [_journal, _outbox, _mirror, _sync, _cases], ids=lambda f: f.__name__.strip("_")
)
def test_data_files_are_owner_only(tmp_path: Path, make: Callable[[Path], None]) -> None:
    folder = tmp_path / "var" / "data"
    make(folder / "store.db")
    modes = _modes(folder)
    assert "store.db" in modes
    for name, mode in modes.items():
        assert mode & 0o077 == 0, f"{name} is {oct(mode)}"
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0


def test_side_files_follow_the_database(tmp_path: Path) -> None:
    # Both connections stay open, so the -wal and -shm files certainly exist.
    import sqlite3

    db = prepare_private_file(tmp_path / "x.db")
    a = sqlite3.connect(db)
    a.execute("PRAGMA journal_mode=WAL")
    a.execute("CREATE TABLE t (v)")
    a.commit()
    b = sqlite3.connect(db)
    b.execute("SELECT * FROM t").fetchall()
    modes = _modes(tmp_path)
    assert {"x.db", "x.db-wal", "x.db-shm"} <= set(modes)
    assert all(m == 0o600 for m in modes.values()), modes
    a.close()
    b.close()


def test_existing_file_is_left_alone(tmp_path: Path) -> None:
    p = tmp_path / "shared.db"
    p.write_bytes(b"")
    p.chmod(0o640)  # an operator's choice
    prepare_private_file(p)
    assert stat.S_IMODE(p.stat().st_mode) == 0o640


def test_memory_names_are_untouched(tmp_path: Path) -> None:
    os.chdir(tmp_path)
    prepare_private_file(":memory:")
    assert not (tmp_path / ":memory:").exists()
