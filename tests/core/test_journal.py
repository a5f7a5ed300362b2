"""The decision journal: durable after close, and masked when shown to operators."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from _coredata import ORG_BLACK, ORG_CLEAN, PERSON_CLEAN, REGION, REP, mirror_rows
from click.testing import CliRunner

from creditguard.cli import main
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
    assert [e.outcome for e in entries] == ["deny", "deny", "allow"]
    assert (
        entries[0].subject == ORG_BLACK
        and entries[0].step == "procurement.bid"
        and entries[0].verified
    )
    assert entries[0].data["measures"][0]["code"] == "NJ-01"
    assert entries[0].data["explanation"] == made[0].explanation


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
    assert entry.subject == masked
    assert entry.data["subject_code"] == masked
    assert REP not in json.dumps(entry.data, ensure_ascii=False)
    # the organization it came through stays whole: a USCC is public
    assert entry.data["records"][0]["record"]["via"] == ORG_BLACK


def test_person_names_masked(make_guard: GuardFactory, mirror: Any, tmp_path: Path) -> None:
    rec = CreditRecord.model_validate({**mirror_rows()[0]["record"], "record_id": "P-1"})
    mirror.upsert(Subject(code=PERSON_CLEAN, kind="person", name="李小四"), rec)
    g = make_guard()
    d = g.check(PERSON_CLEAN, step="procurement.bid", region=REGION)
    assert d.subject_name == "李小四" and d.outcome == "deny"
    g.close()
    [entry] = read_journal(tmp_path / "journal.db")
    text = json.dumps(entry.data, ensure_ascii=False)
    assert "李小四" not in text and PERSON_CLEAN not in text
    assert entry.data["subject_name"] == "李**"


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
    data = json.loads(result.stdout)
    assert [d["decision_id"] for d in data] == [d.decision_id for d in made]
    assert REP not in result.output
    assert data[1]["subject_code"] == REP[:6] + "********" + REP[-4:]


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
    assert len(json.loads(same.stdout)) == 3


def test_journal_command_uses_config(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard()
    _checks(g)
    g.close()
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text('[guard]\ndata_dir = "."\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["journal", "--json"], env={"CREDITGUARD_CONFIG": str(cfg)})
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3


def test_mask_text_masks_id_numbers_in_free_text() -> None:
    from creditguard.masking import mask_text

    text = "subject 320102198001011234 refused; org 91320100MA1W2K7D41 ok; old 320102800101123"
    masked = mask_text(text)
    assert "19800101" not in masked and "800101" not in masked
    assert "320102********1234" in masked and "91320100MA1W2K7D41" in masked
