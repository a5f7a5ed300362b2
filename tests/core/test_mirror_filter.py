"""The SQLite mirror's membership filter: a clean code skips SQL, a held code is always found.

The filter (creditguard.mirror._filter) may say "maybe" for a code the mirror
does not hold, never "no" for one it holds. These tests compare every answer
with the SQL-only lookup, and write to the mirror behind the filter's back
in every way there is: this object on this thread, another object in this
process, another process importing or upserting, a plain sqlite3 connection
(an older creditguard, the shell), a replaced file. Freshness rules (never
loaded, too old) hold on the filtered path as on SQL.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from _coredata import (
    ORG_BLACK,
    ORG_CLEAN,
    ORG_FOCUS,
    PERSON_CLEAN,
    REP,
    mirror_rows,
    uscc,
    write_jsonl,
)

from creditguard.errors import SourceUnavailable
from creditguard.mirror import SqliteMirror
from creditguard.mirror._filter import CodeFilter
from creditguard.models import CreditRecord, Subject

NEW_ORG = uscc("320100", "MA26GHJK")
ROW = {
    "record_id": "NEW-1",
    "list_kind": "blacklist",
    "domain": "tax",
    "listed_on": "2025-01-01",
    "status": "listed",
}


def _sql_only(path: Path) -> SqliteMirror:
    m = SqliteMirror(path)
    m._filter_retry_at = float("inf")  # never builds a filter: every lookup reads SQLite
    return m


def _answers(m: SqliteMirror, codes: list[str], related: bool = False) -> dict[str, Any]:
    got = m.lookup(codes, include_related=related)
    assert list(got) == codes
    return {c: (r.found, r.subject, r.records, r.data_as_of) for c, r in got.items()}


def _loaded(mirror: SqliteMirror) -> SqliteMirror:
    mirror.load_filter()
    assert mirror._filter is not None
    return mirror


def test_a_bloom_filter_never_forgets_a_code() -> None:
    f = CodeFilter(1000, epoch=0, seq=0, ident=None)
    held = [uscc("320100", f"MA{i:06d}".replace("0", "A")) for i in range(2000)]
    f.update(held)
    assert all(f.might_hold(c) for c in held)  # past capacity too: no false negative
    clean = [uscc("110100", f"MB{i:06d}".replace("0", "B")) for i in range(2000)]
    assert sum(f.might_hold(c) for c in clean) < 2000  # it does filter


def test_every_answer_is_the_sql_answer(mirror: SqliteMirror, tmp_path: Path) -> None:
    codes = [ORG_BLACK, ORG_CLEAN, ORG_FOCUS, PERSON_CLEAN, REP, NEW_ORG]
    codes += [r["subject"]["code"] for r in mirror_rows()]
    codes = list(dict.fromkeys(codes))
    filtered = _loaded(mirror)
    plain = _sql_only(tmp_path / "mirror.db")
    for related in (False, True):
        assert _answers(filtered, codes, related) == _answers(plain, codes, related)
        for c in codes:  # one at a time, as a check asks
            assert _answers(filtered, [c], related) == _answers(plain, [c], related)
    assert filtered.lookup([ORG_BLACK])[ORG_BLACK].found
    # The legal representative is in the filter: their organisation's records are found.
    assert filtered.lookup([REP], include_related=True)[REP].records


def _clean_before(m: SqliteMirror, code: str) -> None:
    _loaded(m)
    assert not m.lookup([code])[code].found


def test_an_upsert_through_the_same_object_and_thread_is_seen(mirror: SqliteMirror) -> None:
    _clean_before(mirror, NEW_ORG)
    mirror.upsert(Subject(code=NEW_ORG, kind="organization", name="新公司"), CreditRecord(**ROW))
    got = mirror.lookup([NEW_ORG])[NEW_ORG]
    assert got.found and [r.record_id for r in got.records] == ["NEW-1"]


def test_a_write_by_another_object_or_a_plain_connection_is_seen(
    mirror: SqliteMirror, tmp_path: Path
) -> None:
    _clean_before(mirror, NEW_ORG)
    other = SqliteMirror(tmp_path / "mirror.db")
    other.upsert(None, CreditRecord(**ROW), subject_code=NEW_ORG)
    assert mirror.lookup([NEW_ORG])[NEW_ORG].found
    code = uscc("320100", "MA27HJKL")
    assert not mirror.lookup([code])[code].found
    # Whoever writes the file (an older creditguard, the sqlite3 shell): the triggers log it.
    raw = sqlite3.connect(tmp_path / "mirror.db")
    with raw:
        raw.execute(
            "INSERT INTO records(record_id, subject_code, data) VALUES (?, ?, ?)",
            ("RAW-1", code, CreditRecord(**{**ROW, "record_id": "RAW-1"}).model_dump_json()),
        )
    raw.close()
    assert mirror.lookup([code])[code].found


def _in_child(path: Path, body: str) -> None:
    code = "from creditguard.mirror import SqliteMirror\n" + textwrap.dedent(body)
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)


def test_another_process_importing_or_upserting_is_seen(
    mirror: SqliteMirror, tmp_path: Path
) -> None:
    _clean_before(mirror, NEW_ORG)
    extra = write_jsonl(
        tmp_path / "more.jsonl",
        [*mirror_rows(), {"subject": {"code": NEW_ORG, "kind": "organization"}, "record": ROW}],
    )
    _in_child(
        tmp_path / "mirror.db",
        f"""
        import sys
        SqliteMirror(sys.argv[1]).import_jsonl({str(extra)!r})
        """,
    )
    got = mirror.lookup([NEW_ORG, ORG_CLEAN])
    assert got[NEW_ORG].found and not got[ORG_CLEAN].found
    code = uscc("320100", "MA28JKLM")
    assert not mirror.lookup([code])[code].found
    _in_child(
        tmp_path / "mirror.db",
        f"""
        import sys
        from creditguard.models import CreditRecord
        rec = CreditRecord(record_id="P-2", list_kind="focus", domain="tax",
                           listed_on="2025-02-01", status="listed")
        SqliteMirror(sys.argv[1]).upsert(None, rec, subject_code={code!r})
        """,
    )
    assert mirror.lookup([code])[code].found


def test_a_replaced_file_is_read_afresh(
    mirror: SqliteMirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_before(mirror, NEW_ORG)
    fresh = tmp_path / "fresh.db"
    SqliteMirror(fresh).import_lines(
        [json.dumps({"subject": {"code": NEW_ORG, "kind": "organization"}, "record": ROW})]
    )
    old = mirror._filter
    mirror.close()  # its WAL is checkpointed away: the new file is read alone
    fresh.replace(tmp_path / "mirror.db")
    monkeypatch.setattr("creditguard.mirror.store._RECHECK_S", 0.0)
    got = mirror.lookup([NEW_ORG, ORG_BLACK])
    assert got[NEW_ORG].found and not got[ORG_BLACK].found
    assert mirror._filter is not old  # the old file's filter was thrown away


def test_freshness_rules_hold_on_the_filtered_path(tmp_path: Path, records_file: Path) -> None:
    now = [1_800_000_000.0]
    m = SqliteMirror(tmp_path / "m.db", max_age_s=3600, clock=lambda: now[0])
    m._conn.execute("SELECT 1")  # the file exists, never loaded
    m.load_filter()
    with pytest.raises(SourceUnavailable, match="never been loaded"):
        m.lookup([ORG_CLEAN])
    m.import_jsonl(records_file)
    assert not m.lookup([ORG_CLEAN])[ORG_CLEAN].found
    assert m._filter is not None  # answered by the filter
    now[0] += 7200  # too old: a clean code is not vouched for either
    with pytest.raises(SourceUnavailable, match="max_age_s"):
        m.lookup([ORG_CLEAN])
    m.mark_imported()
    assert m.lookup([ORG_BLACK])[ORG_BLACK].found
