"""The PostgreSQL journal keeps each decision's text too (issue 13).

Each row keeps the wording version and the masked facts its text is rendered
from, as the SQLite journal's verdicts do, so ``creditguard journal show``
renders the same text from either store; rows written before the columns
existed are read, and their text is refused, not guessed. ``creditguard
journal`` and ``creditguard report`` read the PostgreSQL journal named in the
configuration; ``--unmask`` refuses it. The DSN is never shown.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import psycopg
import pytest
from _coredata import (
    ORG_BLACK,
    ORG_CLEAN,
    PERSON_CLEAN,
    REGION,
    REP,
    DownSource,
    city_list_data,
    province_list_data,
)
from _pgmirror import pg_schema_dsn
from click.testing import CliRunner, Result

from creditguard import journal_pg
from creditguard.cli import main
from creditguard.clock import CST
from creditguard.config import load_config
from creditguard.errors import ConfigError, InputError, StorageError
from creditguard.guard import Guard
from creditguard.journal import DecisionJournal, read_journal, render_explanation
from creditguard.journal_pg import PostgresJournal, read_postgres_journal
from creditguard.masking import mask_text, unmasked_numbers
from creditguard.models import Decision

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

GuardFactory = Any
MASKED_REP = REP[:6] + "********" + REP[-4:]


def _decisions(make_guard: GuardFactory) -> list[Decision]:
    """Decisions of every kind the text distinguishes (written to tmp_path/journal.db too)."""
    g = make_guard()
    made = [
        g.check(ORG_BLACK, step="subsidy.apply", region=REGION),  # restrict
        g.check(ORG_BLACK, step="procurement.bid", region=REGION),  # deny
        g.check(ORG_BLACK, step="procurement.bid", region=REGION),  # the same verdict again
        g.check(REP, step="appointment.qualify", region=REGION),  # a person with records
        g.check(ORG_CLEAN, step="subsidy.apply", region=REGION),  # clean: a template
        g.check(PERSON_CLEAN, step="subsidy.apply", region=REGION),  # clean person
        g.check(ORG_CLEAN, step="procurement.bid", region=REGION),
    ]
    g.close()
    down = make_guard({"failure": {"default": "hold"}}, sources=[DownSource()])
    made.append(down.check(ORG_CLEAN, step="procurement.bid", region=REGION))  # unverified
    down.close()
    return made


def test_the_same_decisions_render_the_same_texts_from_sqlite_and_postgresql(
    make_guard: GuardFactory, tmp_path: Path
) -> None:
    made = _decisions(make_guard)
    assert {d.outcome for d in made} >= {"allow", "deny", "restrict"} and not made[-1].verified
    sqlite_path = tmp_path / "journal.db"
    with pg_schema_dsn() as dsn:
        j = PostgresJournal(dsn, flush_interval=60)
        for d in made:
            j.append(d)
        assert j.pending == len(made)  # queued: written in one batch, as before
        assert j.flush() == len(made)
        j.close()
        for d in made:
            from_sqlite = render_explanation(sqlite_path, d.decision_id)
            from_pg = render_explanation(dsn, d.decision_id)
            assert from_pg == from_sqlite
            assert from_pg[1] == mask_text(d.explanation)
        assert read_postgres_journal(dsn) == read_journal(sqlite_path)
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT subject, wording_version, facts FROM journal_decisions"
            ).fetchall()
        # the facts are the masked JSON the SQLite journal keeps: no whole ID number
        assert all(r[1] == made[0].wording_version and r[2] for r in rows)
        assert MASKED_REP in {r[0] for r in rows}
        stored = "".join(r[0] + r[2] for r in rows)
        assert REP not in stored and PERSON_CLEAN not in stored
        assert not unmasked_numbers(stored)


def test_repeated_verdicts_serialise_their_facts_once(
    make_guard: GuardFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = make_guard({"journal": {"enabled": False}})
    warm = [g.check(ORG_BLACK, step="procurement.bid", region=REGION) for _ in range(20)]
    clean = [g.check(ORG_CLEAN, step="subsidy.apply", region=REGION) for _ in range(20)]
    g.close()
    calls: list[str] = []
    real = journal_pg.decision_facts

    def counted(d: Decision) -> str:
        calls.append(d.decision_id)
        return real(d)

    monkeypatch.setattr(journal_pg, "decision_facts", counted)
    with pg_schema_dsn() as dsn:
        j = PostgresJournal(dsn, flush_interval=60)
        for d in warm + clean:
            j.append(d)
        j.flush()
        j.close()
        assert len(calls) == 2  # one verdict each, as the SQLite journal keys them
        for d in (warm[-1], clean[-1]):
            assert render_explanation(dsn, d.decision_id)[1] == mask_text(d.explanation)


_OLD_TABLE = """CREATE TABLE journal_decisions (
    seq BIGSERIAL PRIMARY KEY, decision_id TEXT NOT NULL, decided_at TIMESTAMPTZ NOT NULL,
    decided_at_text TEXT NOT NULL, host TEXT NOT NULL, subject TEXT NOT NULL,
    subject_kind TEXT NOT NULL, step TEXT NOT NULL, region TEXT NOT NULL, as_of TEXT NOT NULL,
    outcome TEXT NOT NULL, verified BOOLEAN NOT NULL, stale BOOLEAN NOT NULL,
    stale_age_s DOUBLE PRECISION, measures TEXT NOT NULL, conditions TEXT NOT NULL,
    records TEXT NOT NULL, list_region TEXT, list_version TEXT, sources TEXT NOT NULL,
    possible_matches INTEGER NOT NULL, degraded_reason TEXT)"""


def _columns(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'journal_decisions'::regclass"
                " AND attnum > 0 AND NOT attisdropped"
            )
        }


def test_a_journal_of_the_first_layout_gains_the_columns_and_refuses_old_texts(
    make_guard: GuardFactory,
) -> None:
    g = make_guard({"journal": {"enabled": False}})
    old, new = (g.check(ORG_BLACK, step="procurement.bid", region=REGION) for _ in range(2))
    g.close()
    with pg_schema_dsn() as dsn:
        with psycopg.connect(dsn) as conn:  # written by the first layout: no text columns
            conn.execute(_OLD_TABLE)
            row = journal_pg._row(old, "old-host", "")[:-2]
            marks = ", ".join(["%s"] * len(row))
            conn.execute(
                f"INSERT INTO journal_decisions ({journal_pg._ENTRY_COLUMNS}) VALUES ({marks})",
                row,
            )
        assert "facts" not in _columns(dsn)
        # read as it is, before any writer opened it
        assert [e.decision_id for e in read_postgres_journal(dsn)] == [old.decision_id]
        with pytest.raises(StorageError, match="before the PostgreSQL journal recorded") as caught:
            render_explanation(dsn, old.decision_id)
        assert "postgres@" not in str(caught.value)
        j = PostgresJournal(dsn, flush_interval=60)  # opening adds the columns
        assert {"wording_version", "facts"} <= _columns(dsn)
        j.append(new)
        j.flush()
        j.close()
        PostgresJournal(dsn).close()  # a second opening has nothing to add
        assert [e.decision_id for e in read_postgres_journal(dsn)] == [
            old.decision_id,
            new.decision_id,
        ]
        with pytest.raises(StorageError, match="before the PostgreSQL journal recorded"):
            render_explanation(dsn, old.decision_id)
        assert render_explanation(dsn, new.decision_id)[1] == mask_text(new.explanation)


def test_unknown_ids_unshipped_wording_and_a_journal_never_written(
    make_guard: GuardFactory,
) -> None:
    g = make_guard({"journal": {"enabled": False}})
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    g.close()
    with pg_schema_dsn() as dsn:
        with pytest.raises(InputError, match="no decision 'nope' in the PostgreSQL journal"):
            render_explanation(dsn, "nope")  # no table yet: nothing created by reading
        assert read_postgres_journal(dsn) == []
        j = PostgresJournal(dsn)
        j.append(d)
        j.close()
        with pytest.raises(InputError, match="no decision 'nope'") as caught:
            render_explanation(dsn, "nope")
        assert "postgres@" not in str(caught.value) and "cg_test_" not in str(caught.value)
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "UPDATE journal_decisions SET wording_version = '2019.9', facts = "
                "jsonb_set(facts::jsonb, '{wording_version}', '\"2019.9\"')::text"
            )
        with pytest.raises(ConfigError, match=r"'2019\.9'"):
            render_explanation(dsn, d.decision_id)


def _cli(*args: str) -> Result:
    blocked = ",".join(sorted({ep.name for ep in entry_points(group="creditguard")}))
    return CliRunner().invoke(main, list(args), env={"CREDITGUARD_DISABLE_PLUGINS": blocked})


def _config(tmp_path: Path, journal: str) -> Path:
    """A configuration whose measure lists are the test lists and whose journal is ``journal``."""
    lists = tmp_path / "conf" / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    for region, data in (("320100", city_list_data()), ("320000", province_list_data())):
        (lists / f"{region}.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    cfg = tmp_path / "conf" / f"{'pg' if journal.startswith('postgresql') else 'file'}.toml"
    cfg.write_text(
        f'[guard]\ndata_dir = "../var"\nunit_code = "320100-TEST"\n'
        '[measures]\npacks = false\nfiles = ["lists/*.json"]\n'
        f'[outbox]\ndeliver = false\n[journal]\npath = "{journal}"\nflush_interval_s = 60\n',
        encoding="utf-8",
    )
    return cfg


def test_journal_show_and_list_commands_read_the_postgresql_journal_of_the_config(
    tmp_path: Path, mirror: Any
) -> None:
    with pg_schema_dsn() as dsn:
        cfg = _config(tmp_path, dsn)
        g = Guard(load_config(cfg), sources=[mirror], load_entrypoints=False)
        d = g.check(REP, step="appointment.qualify", region=REGION)
        g.close()
        human = _cli("journal", "show", d.decision_id, "--config", str(cfg))
        assert human.exit_code == 0, human.output
        assert mask_text(d.explanation) in human.output and MASKED_REP in human.output
        doc = _cli("journal", "show", d.decision_id, "--config", str(cfg), "--json")
        assert doc.exit_code == 0, doc.output
        shown = json.loads(doc.output)
        assert shown["explanation"] == mask_text(d.explanation)
        assert shown["decision"]["decision_id"] == d.decision_id
        assert shown["decision"]["subject"] == MASKED_REP
        listed = _cli("journal", "--config", str(cfg), "--json")
        assert [e["decision_id"] for e in json.loads(listed.output)["decisions"]] == [d.decision_id]
        # --path takes the DSN too
        by_path = _cli("journal", "show", d.decision_id, "--path", dsn, "--json")
        assert json.loads(by_path.output) == shown
        unknown = _cli("journal", "show", "nope", "--config", str(cfg))
        assert unknown.exit_code == 1 and "no decision 'nope' in the PostgreSQL journal" in (
            unknown.output
        )
        for r in (human, doc, listed, by_path, unknown):
            assert REP not in r.output and not unmasked_numbers(r.output)
            assert "postgres@" not in r.output and "cg_test_" not in r.output


def test_report_reads_the_postgresql_journal_as_it_reads_the_file(
    tmp_path: Path, mirror: Any
) -> None:
    with pg_schema_dsn() as dsn:
        cfg_pg = _config(tmp_path, dsn)
        cfg_file = _config(tmp_path, str(tmp_path / "var" / "journal.db"))
        g = Guard(load_config(cfg_pg), sources=[mirror], load_entrypoints=False)
        made = [
            g.check(ORG_BLACK, step="procurement.bid", region=REGION, open_case=False),
            g.check(ORG_CLEAN, step="procurement.bid", region=REGION),
            g.check(REP, step="appointment.qualify", region=REGION, open_case=False),
        ]
        g.close()
        copy = DecisionJournal(tmp_path / "var" / "journal.db")
        for d in made:
            copy.append(d)
        copy.close()
        today = datetime.now(CST).date().isoformat()
        docs = []
        for cfg in (cfg_pg, cfg_file):
            r = _cli("report", "--from", today, "--to", today, "--json", "--config", str(cfg))
            assert r.exit_code == 0, r.output
            assert "postgres@" not in r.output
            docs.append(json.loads(r.output)["checks"])
        assert docs[0] == docs[1]
        figures = docs[0][REGION]
        assert figures["checks"] == 3 and figures["hits"] == 2
        for outcome in {d.outcome for d in made}:
            assert figures["outcomes"][outcome] == sum(d.outcome == outcome for d in made)


def test_unmask_is_refused_with_a_postgresql_journal(
    tmp_path: Path, records_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from creditguard.unmask_log import record_unmasking

    monkeypatch.chdir(tmp_path)
    with pg_schema_dsn() as dsn:
        cfg = _config(tmp_path, dsn)
        imported = _cli("mirror", "import", str(records_file), "--config", str(cfg))
        assert imported.exit_code == 0, imported.output
        before = sorted(p.name for p in tmp_path.iterdir())
        for args in (
            ("check", REP, "--step", "procurement.bid", "--region", REGION, "--unmask"),
            ("code", REP, "--unmask"),
        ):
            r = _cli(*args, "--config", str(cfg))
            assert r.exit_code == 2, (args, r.output)
            assert REP not in r.output and "PostgreSQL" in r.output
            assert "postgres@" not in r.output
        # nothing recorded in a stray local file instead of the journal
        assert sorted(p.name for p in tmp_path.iterdir()) == before
        with pytest.raises(StorageError, match="PostgreSQL") as caught:
            record_unmasking(dsn, command="check --unmask", subjects=[REP])
        assert "postgres@" not in str(caught.value) and REP not in str(caught.value)
        assert sorted(p.name for p in tmp_path.iterdir()) == before
