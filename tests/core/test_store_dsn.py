"""One rule decides whether a store's path is a PostgreSQL database, for every store.

A libpq keyword string (``host=… dbname=…``) was a database for the outbox and
case desk but a file name for the journal and the mirror: one setting copied
between sections meant two different stores.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from creditguard.errors import StorageError
from creditguard.journal import read_journal, render_explanation
from creditguard.journal_pg import is_dsn
from creditguard.mirror import is_postgres_dsn
from creditguard.outbox import SqliteOutbox, open_outbox

KEYWORDS = "host=127.0.0.1 port=1 dbname=creditguard connect_timeout=1"


@pytest.mark.parametrize(
    "target",
    ["postgresql://u@h/db", "postgres://u@h/db", KEYWORDS],
)
def test_every_store_reads_a_dsn_alike(target: str) -> None:
    assert is_dsn(target)
    assert is_postgres_dsn(target)


@pytest.mark.parametrize("target", ["journal.db", "/var/lib/cg/mirror.db", "postgresql.db"])
def test_file_paths_stay_files(target: str, tmp_path: Path) -> None:
    assert not is_dsn(target)
    assert not is_dsn(Path(target))
    assert not is_postgres_dsn(target)
    assert isinstance(open_outbox(str(tmp_path / "outbox.db")), SqliteOutbox)


def test_journal_does_not_create_a_file_named_after_a_keyword_dsn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # journal show goes to PostgreSQL too, and the message never quotes the DSN
    with pytest.raises(StorageError, match="cannot read the PostgreSQL journal") as caught:
        render_explanation(KEYWORDS, "d-1")
    assert "dbname" not in str(caught.value)
    # read_journal goes to PostgreSQL (nothing listens on port 1), not to a local file
    with pytest.raises(StorageError, match="PostgreSQL journal"):
        read_journal(KEYWORDS)
    assert list(tmp_path.iterdir()) == []


def test_outbox_connection_error_keeps_libpq_first_line_only() -> None:
    """libpq's later lines are hints and may quote the connection string: not in the error."""
    from creditguard.outbox import PostgresOutbox

    with pytest.raises(StorageError) as caught:
        PostgresOutbox(KEYWORDS + " password=sekrit-pw")
    text = str(caught.value)
    assert "nothing was changed: OperationalError: " in text
    assert "\n" not in text
    assert "sekrit-pw" not in text
