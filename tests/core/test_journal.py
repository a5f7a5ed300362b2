"""The decision journal: durable after close, and masked when shown to operators."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, PERSON_CLEAN, REGION, REP, mirror_rows
from click.testing import CliRunner

from creditguard.cli import main
from creditguard.errors import StorageError
from creditguard.journal import DecisionJournal, read_journal
from creditguard.models import CreditRecord, Subject

GuardFactory = Any


def _checks(g: Any) -> list[Any]:
    return [
        g.check(ORG_BLACK, step="procurement.bid", region=REGION),
        g.check(REP, step="appointment.qualify", region=REGION),
        g.check(ORG_CLEAN, step="subsidy.apply", region=REGION),
    ]


def test_decisions_readable_after_close(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard()
    made = _checks(g)
    g.close()
    entries = read_journal(tmp_path / "journal.db")
    assert [e.decision_id for e in entries] == [d.decision_id for d in made]
    assert [e.decided_at for e in entries] == [d.decided_at.isoformat() for d in made]
    assert [e.outcome for e in entries] == ["deny", "deny", "allow"]
    first, _, clean = entries
    d = made[0]
    assert (first.subject, first.subject_kind, first.step, first.region) == (
        ORG_BLACK,
        "organization",
        "procurement.bid",
        REGION,
    )
    assert first.verified and not first.stale and first.as_of == d.as_of.isoformat()
    # what was decided: measure codes, the records they rest on, the list in force
    assert first.measures == tuple(m.code for m in d.measures) and "NJ-01" in first.measures
    assert first.conditions == tuple(m.code for m in d.conditions)
    assert first.records == tuple(er.record.record_id for er in d.records) and first.records
    assert (first.list_region, first.list_version) == (d.list_region, d.list_version)
    assert first.sources == tuple(p.source for p in d.provenance)
    assert clean.measures == () and clean.records == () and clean.outcome == "allow"


def test_rows_record_the_verdict_not_a_copy(make_guard: GuardFactory, tmp_path: Path) -> None:
    # Repeated identical decisions share one verdict row; each keeps its own id and time.
    g = make_guard()
    made = [g.check(ORG_BLACK, step="procurement.bid", region=REGION) for _ in range(50)]
    g.close()
    conn = sqlite3.connect(tmp_path / "journal.db")
    assert conn.execute("SELECT count(*) FROM verdicts").fetchone() == (1,)
    # the view gives SQL readers one row per decision
    ids = [r[0] for r in conn.execute("SELECT decision_id FROM decisions ORDER BY decided_at_utc")]
    assert sorted(ids) == sorted(d.decision_id for d in made)
    # no copy per decision: the text is not stored, and the facts it is rendered from
    # (measure titles…) are stored once, with the one verdict
    dump = "\n".join(conn.iterdump())
    conn.close()
    assert made[0].explanation not in dump and "基准" not in dump
    assert dump.count(made[0].measures[0].title) == 1


def test_journal_path_from_config(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard({"journal": {"path": "audit/decisions.db"}})
    _checks(g)
    g.close()
    assert len(read_journal(tmp_path / "audit" / "decisions.db")) == 3


def test_journal_disabled(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard({"journal": {"enabled": False}})
    _checks(g)
    g.close()
    assert g.journal is None and not (tmp_path / "journal.db").exists()


def test_person_codes_masked(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard()
    d = _checks(g)[1]
    g.close()
    [entry] = [e for e in read_journal(tmp_path / "journal.db") if e.decision_id == d.decision_id]
    masked = REP[:6] + "********" + REP[-4:]
    assert entry.subject == masked and entry.subject_kind == "person"
    assert REP not in json.dumps(entry.to_dict(), ensure_ascii=False)
    # masked in the file itself, not only when shown
    assert REP.encode() not in (tmp_path / "journal.db").read_bytes()


def test_person_names_not_stored(make_guard: GuardFactory, mirror: Any, tmp_path: Path) -> None:
    rec = CreditRecord.model_validate({**mirror_rows()[0]["record"], "record_id": "P-1"})
    mirror.upsert(Subject(code=PERSON_CLEAN, kind="person", name="李小四"), rec)
    g = make_guard()
    d = g.check(PERSON_CLEAN, step="procurement.bid", region=REGION)
    assert d.subject_name == "李小四" and d.outcome == "deny"
    g.close()
    [entry] = read_journal(tmp_path / "journal.db")
    assert entry.records == ("P-1",) and entry.outcome == "deny"
    raw = (tmp_path / "journal.db").read_bytes()
    assert "李小四".encode() not in raw and PERSON_CLEAN.encode() not in raw


def test_since_and_limit(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard()
    made = _checks(g)
    g.close()
    path = tmp_path / "journal.db"
    assert [e.decision_id for e in read_journal(path, since=made[1].decided_at)] == [
        d.decision_id for d in made[1:]
    ]
    assert read_journal(path, since=made[2].decided_at + timedelta(seconds=1)) == []
    assert len(read_journal(path, limit=2)) == 2


def test_missing_journal_reads_empty(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "nothing.db") == []


def test_entries_flushes_first(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard({"journal": {"flush_interval_s": 60}})
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert isinstance(g.journal, DecisionJournal)
    assert [e.decision_id for e in g.journal.entries()] == [d.decision_id]


def test_journal_command_json_masks(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard()
    made = _checks(g)
    g.close()
    path = str(tmp_path / "journal.db")
    result = CliRunner().invoke(
        main, ["journal", "--path", path, "--json"], env={"CREDITGUARD_CONFIG": None}
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["decisions"]
    assert [d["decision_id"] for d in data] == [d.decision_id for d in made]
    assert REP not in result.output
    assert data[1]["subject"] == REP[:6] + "********" + REP[-4:]
    assert data[0]["measures"] == [m.code for m in made[0].measures]
    assert data[0]["verified"] is True and data[0]["records"]


def test_journal_command_human_and_since(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard()
    made = _checks(g)
    g.close()
    path = str(tmp_path / "journal.db")
    result = CliRunner().invoke(main, ["journal", "--path", path], env={"CREDITGUARD_CONFIG": None})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and "deny" in lines[0] and "NJ-01" in lines[0] and ORG_BLACK in lines[0]
    assert REP not in result.output
    tomorrow = (made[0].decided_at + timedelta(days=1)).strftime("%Y-%m-%d")
    later = CliRunner().invoke(main, ["journal", "--path", path, "--since", tomorrow])
    assert later.exit_code == 0 and "no decisions" in later.stdout
    today = made[0].decided_at.strftime("%Y-%m-%d")
    same = CliRunner().invoke(main, ["journal", "--path", path, "--since", today, "--json"])
    assert len(json.loads(same.stdout)["decisions"]) == 3


def test_journal_command_uses_config(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard()
    _checks(g)
    g.close()
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text('[guard]\ndata_dir = "."\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["journal", "--json"], env={"CREDITGUARD_CONFIG": str(cfg)})
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["decisions"]) == 3


def test_mask_text_masks_id_numbers_in_free_text() -> None:
    from creditguard.masking import mask_text

    text = "subject 320102198001011234 refused; org 91320100MA1W2K7D41 ok; old 320102800101123"
    masked = mask_text(text)
    assert "19800101" not in masked and "800101" not in masked
    assert "320102********1234" in masked and "91320100MA1W2K7D41" in masked


# --- the bounded queue, back-pressure and a writer that keeps up --------------------


def _decisions(make_guard: GuardFactory, n: int) -> list[Any]:
    g = make_guard({"journal": {"enabled": False}})
    codes = (ORG_BLACK, ORG_CLEAN, REP)
    steps = ("procurement.bid", "subsidy.apply", "appointment.qualify")
    return [g.check(codes[i % 3], step=steps[i % 3], region=REGION) for i in range(n)]


def test_a_full_queue_is_written_by_the_checking_thread(
    make_guard: GuardFactory, tmp_path: Path, monkeypatch: Any
) -> None:
    # No writer thread at all: only back-pressure keeps the queue bounded, and nothing is lost.
    monkeypatch.setattr(DecisionJournal, "_start", lambda self: None)
    j = DecisionJournal(tmp_path / "j.db", flush_interval=3600, batch=8, max_queued=32)
    made = _decisions(make_guard, 200)
    most = 0
    for d in made:
        j.append(d)
        most = max(most, j.pending)
    assert most <= 32
    written = len(read_journal(j.path))
    assert written == 200 - j.pending and written >= 200 - 32
    j.close()
    assert j.pending == 0
    order = sorted(made, key=lambda d: (d.decided_at.isoformat(), d.decision_id))
    assert [e.decision_id for e in read_journal(j.path)] == [d.decision_id for d in order]


class _BrokenConnection:
    """A connection whose every statement fails, as on a full disk."""

    def __enter__(self) -> _BrokenConnection:
        raise sqlite3.OperationalError("database or disk is full")

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None


def test_an_unwritable_journal_raises_rather_than_forgets(
    make_guard: GuardFactory, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(DecisionJournal, "_start", lambda self: None)
    j = DecisionJournal(tmp_path / "j.db", flush_interval=3600, batch=4, max_queued=10)
    good = j._conn
    j._conn = _BrokenConnection()  # type: ignore[assignment]
    made = _decisions(make_guard, 12)
    for d in made[:9]:
        j.append(d)  # below the bound: queued, no I/O in the checking thread
    with pytest.raises(StorageError, match="write failed"):
        j.append(made[9])
    assert j.pending == 10  # every decision kept, none dropped
    j._conn = good
    j.append(made[10])
    j.close()
    assert {e.decision_id for e in read_journal(j.path)} == {d.decision_id for d in made[:11]}


def test_sustained_checks_all_journaled_and_close_leaves_nothing(
    make_guard: GuardFactory, tmp_path: Path
) -> None:
    # A continuous loop of checks (no pause for the writer's interval): the queue stays
    # bounded, and after close() every decision is in the file and the writer is gone.
    g = make_guard({"journal": {"enabled": False}})
    j = g.journal = DecisionJournal(tmp_path / "load.db", batch=256, max_queued=1024)
    codes = (ORG_BLACK, ORG_CLEAN, ORG_BLACK, REP)
    n = 12_000
    most = 0
    ids = []
    for i in range(n):
        ids.append(g.check(codes[i % 4], step="procurement.bid", region=REGION).decision_id)
        most = max(most, j.pending)
    assert most <= 1024 + 256  # the bound, plus the batch the writer may be writing
    writer = j._thread
    g.close()
    assert j.pending == 0 and writer is not None and not writer.is_alive()
    got = [e.decision_id for e in read_journal(j.path)]
    assert len(got) == n and set(got) == set(ids)


def test_first_layout_kept_apart(tmp_path: Path, make_guard: GuardFactory) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE decisions (decision_id TEXT PRIMARY KEY, data TEXT)")
    conn.execute("INSERT INTO decisions VALUES ('old-1', '{}')")
    conn.commit()
    conn.close()
    j = DecisionJournal(path)
    [d] = _decisions(make_guard, 1)
    j.append(d)
    j.close()
    assert [e.decision_id for e in read_journal(path)] == [d.decision_id]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT decision_id FROM decisions_v1").fetchall() == [("old-1",)]
    conn.close()


def test_bad_bounds_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_queued"):
        DecisionJournal(tmp_path / "j.db", batch=100, max_queued=10)
