"""Screened decisions are journaled whole, without being remembered for later ones.

A screened subject's records and measures are its own objects, never decided
again from them, so the journal writes their verdict (text facts and all) but
keeps no identity-keyed entry for it: a million-subject re-screening would
otherwise hold the last 4,096 subjects' parts alive for nothing. Warm checks
still share one verdict row; clean decisions still share their template.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_FOCUS, ORG_MULTI, REGION
from _pgmirror import pg_schema_dsn

from creditguard.journal import DecisionJournal, read_journal, render_explanation
from creditguard.journal_pg import PostgresJournal, read_postgres_journal
from creditguard.masking import mask_text
from creditguard.models import Decision

GuardFactory = Any
HELD = [ORG_BLACK, ORG_FOCUS, ORG_MULTI]
KW: dict[str, Any] = {"step": "procurement.bid", "region": REGION}


def test_screened_verdicts_are_written_but_not_remembered(
    make_guard: GuardFactory, tmp_path: Path
) -> None:
    g = make_guard()
    rows = g.screen([*HELD, ORG_CLEAN, *HELD], **KW)
    g.journal.flush()
    assert not any(isinstance(k[0], int) for k in g.journal._verdicts)  # no identity keys
    entries = {e.decision_id: e for e in read_journal(tmp_path / "journal.db")}
    for r in rows:
        d = r.decision
        assert d is not None and entries[d.decision_id].outcome == d.outcome
        assert render_explanation(tmp_path / "journal.db", d.decision_id)[1] == mask_text(
            d.explanation
        )
    # each screened held decision has its verdict row; the clean one shares the template
    conn = sqlite3.connect(tmp_path / "journal.db")
    assert conn.execute("SELECT count(*) FROM verdicts").fetchone() == (len(HELD) * 2 + 1,)
    conn.close()
    # warm checks still share one verdict
    for _ in range(5):
        g.check(ORG_BLACK, **KW)
    g.journal.flush()
    conn = sqlite3.connect(tmp_path / "journal.db")
    assert conn.execute("SELECT count(*) FROM verdicts").fetchone() == (len(HELD) * 2 + 2,)
    conn.close()
    g.close()


@pytest.mark.postgres
def test_the_postgresql_journal_writes_screened_decisions_alike(make_guard: GuardFactory) -> None:
    g = make_guard({"journal": {"enabled": False}})
    rows = g.screen([*HELD, ORG_CLEAN], **KW)
    g.close()
    with pg_schema_dsn() as dsn:
        j = PostgresJournal(dsn, flush_interval=60)
        for r in rows:
            assert r.decision is not None
            j.append(r.decision, shared=False)
        j.flush()
        # nothing kept for the held decisions; the clean one's template is shared
        assert len(j._facts) == 1 and not isinstance(next(iter(j._facts))[0], int)
        j.close()
        got = {e.decision_id: e.outcome for e in read_postgres_journal(dsn)}
        assert got == {r.decision.decision_id: r.outcome for r in rows if r.decision}
        for r in rows:
            assert r.decision is not None
            assert render_explanation(dsn, r.decision.decision_id)[1] == mask_text(
                r.decision.explanation
            )


def test_a_screened_decision_waits_on_the_queue_as_its_row_only(
    make_guard: GuardFactory, tmp_path: Path
) -> None:
    g = make_guard({"journal": {"enabled": False}})
    rows = g.screen(HELD, **KW)
    g.close()
    j = DecisionJournal(tmp_path / "own.db", flush_interval=60)
    for r in rows:
        assert r.decision is not None
        j.append(r.decision, shared=False)
    # the decisions themselves are not kept: the collector has nothing of theirs to walk
    assert not any(isinstance(part, Decision) for item in j._queue for part in item)
    j.flush()
    j.close()
    assert {e.decision_id for e in read_journal(tmp_path / "own.db")} == {
        r.decision.decision_id for r in rows if r.decision is not None
    }
