"""``creditguard journal show``: a decision's text again, exactly as it was shown (issue 9)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, REGION, REP, DownSource
from click.testing import CliRunner

from creditguard.cli import main
from creditguard.errors import ConfigError, InputError, StorageError
from creditguard.journal import read_journal, render_explanation
from creditguard.masking import mask_text, unmasked_numbers

GuardFactory = Any


def _shown_again(path: Path, d: Any) -> str:
    entry, text = render_explanation(path, d.decision_id)
    assert entry.decision_id == d.decision_id and entry.outcome == d.outcome
    return text


def test_the_text_is_rendered_again_exactly(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard()
    restrict = g.check(ORG_BLACK, step="subsidy.apply", region=REGION)
    deny = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    person = g.check(REP, step="appointment.qualify", region=REGION)
    clean = g.check(ORG_CLEAN, step="subsidy.apply", region=REGION)
    g.close()
    assert "restrict" in {m.effect for m in restrict.measures} and restrict.records
    assert person.subject_kind == "person" and person.records
    assert clean.outcome == "allow" and not clean.records
    path = tmp_path / "journal.db"
    for d in (restrict, deny, person, clean):
        assert _shown_again(path, d) == mask_text(d.explanation)
    # the person's number never in the file, even inside the recorded facts
    assert REP.encode() not in path.read_bytes()


def test_an_unverified_decision_reads_as_unverified(
    make_guard: GuardFactory, tmp_path: Path
) -> None:
    g = make_guard({"failure": {"default": "hold"}}, sources=[DownSource()])
    d = g.check(ORG_CLEAN, step="procurement.bid", region=REGION)
    g.close()
    assert not d.verified
    text = _shown_again(tmp_path / "journal.db", d)
    assert text == mask_text(d.explanation) and "信用信息暂未能核验" in text


def test_clean_subjects_share_a_template_and_each_text_is_right(
    make_guard: GuardFactory, tmp_path: Path
) -> None:
    g = make_guard()
    made = [g.check(c, step="subsidy.apply", region=REGION) for c in (ORG_CLEAN, ORG_CLEAN)]
    made.append(g.check(ORG_CLEAN, step="procurement.bid", region=REGION))
    g.close()
    path = tmp_path / "journal.db"
    for d in made:
        assert _shown_again(path, d) == mask_text(d.explanation)
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT subject, wording_version, facts FROM verdicts").fetchall()
    conn.close()
    assert len(rows) == 2 and all(r[0] == "" and r[1] == made[0].wording_version for r in rows)


def test_the_stored_wording_version_is_used(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard()
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    g.close()
    path = tmp_path / "journal.db"
    conn = sqlite3.connect(path)
    conn.execute("UPDATE verdicts SET facts = json_set(facts, '$.wording_version', '2019.9')")
    conn.execute("UPDATE verdicts SET wording_version = '2019.9'")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigError, match=r"'2019\.9'"):
        render_explanation(path, d.decision_id)
    r = CliRunner().invoke(main, ["journal", "show", d.decision_id, "--path", str(path)])
    assert r.exit_code != 0 and "2019.9" in r.output


def test_show_command_human_and_json(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard()
    d = g.check(REP, step="appointment.qualify", region=REGION)
    g.close()
    path = str(tmp_path / "journal.db")
    r = CliRunner().invoke(main, ["journal", "show", d.decision_id, "--path", path, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["schema_version"] and doc["explanation"] == mask_text(d.explanation)
    assert doc["decision"]["decision_id"] == d.decision_id
    assert doc["decision"]["subject"] == REP[:6] + "********" + REP[-4:]
    assert not unmasked_numbers(r.output)
    human = CliRunner().invoke(main, ["journal", "show", d.decision_id, "--path", path])
    assert human.exit_code == 0 and mask_text(d.explanation) in human.output
    assert REP not in human.output
    # the list command still works beside its subcommand
    listed = CliRunner().invoke(main, ["journal", "--path", path, "--json"])
    assert listed.exit_code == 0 and d.decision_id in listed.output


def test_unknown_id_and_a_layout_4_journal(make_guard: GuardFactory, tmp_path: Path) -> None:
    g = make_guard()
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    g.close()
    path = tmp_path / "journal.db"
    with pytest.raises(InputError, match="no decision 'nope'"):
        render_explanation(path, "nope")
    # a journal written in layout 4 (no wording or facts): still read, its text not guessed
    conn = sqlite3.connect(path)
    conn.execute("DROP VIEW decisions")
    conn.execute("ALTER TABLE verdicts DROP COLUMN facts")
    conn.execute("ALTER TABLE verdicts DROP COLUMN wording_version")
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    assert [e.decision_id for e in read_journal(path)] == [d.decision_id]
    with pytest.raises(StorageError, match="layout 4 or older"):
        render_explanation(path, d.decision_id)
    from creditguard.journal import DecisionJournal

    DecisionJournal(path).close()  # opening upgrades it
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (5,)
    conn.close()
    assert [e.decision_id for e in read_journal(path)] == [d.decision_id]
    with pytest.raises(StorageError, match="layout 4 or older"):
        render_explanation(path, d.decision_id)
