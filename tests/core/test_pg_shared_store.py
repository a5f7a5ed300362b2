"""Several hosts, one PostgreSQL: mirror, outbox and journal shared (issue 13, "done when").

Two application processes, each with its own data directory, check subjects
against one PostgreSQL mirror and write cases to one PostgreSQL outbox and
decisions to one PostgreSQL journal; their decisions equal those of one
process on the embedded SQLite stores, and the shared outbox and journal hold
what the two wrote (the journal masked, read by ``creditguard journal``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from _coredata import (
    ORG_BLACK,
    ORG_CLEAN,
    ORG_FOCUS,
    ORG_MULTI,
    PERSON_CLEAN,
    REP,
    mirror_rows,
    write_jsonl,
)
from _pgmirror import pg_schema_dsn
from click.testing import CliRunner

from creditguard.cli import main
from creditguard.journal_pg import PostgresJournal, read_postgres_journal
from creditguard.mirror import PostgresMirror
from creditguard.outbox import PostgresOutbox, SqliteOutbox

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

CODES = [ORG_BLACK, ORG_CLEAN, ORG_FOCUS, ORG_MULTI, REP, PERSON_CLEAN]
STEPS = ["procurement.bid", "subsidy.apply", "licensing.accept"]

# One application process: checks the given codes at every step, prints the decisions.
_APP = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {tests!r})
    from _coredata import measure_lists
    from creditguard.config import config_from_dict
    from creditguard.guard import Guard

    raw = json.loads(sys.argv[1])
    cfg = config_from_dict(raw, base_dir=raw["guard"]["data_dir"])
    g = Guard(cfg, measure_lists=measure_lists(), load_entrypoints=False)
    out = []
    for code in json.loads(sys.argv[2]):
        for step in {steps!r}:
            d = g.check(code, step=step, region="320100")
            out.append([code, step, d.outcome, [m.code for m in d.measures], d.verified])
    g.close()
    print(json.dumps(out))
    """
)


def config(data_dir: Path, store: str | None) -> dict[str, Any]:
    """A host's configuration: every store in PostgreSQL (``store``) or in data_dir (None)."""
    raw: dict[str, Any] = {
        "guard": {"data_dir": str(data_dir), "unit_code": "320100-TEST"},
        "measures": {"packs": False},
        "sources": [{"name": "mirror", "type": "mirror"}],
        "outbox": {"deliver": False},
        "journal": {"flush_interval_s": 0.1},
    }
    if store is not None:
        raw["sources"][0]["path"] = store
        raw["outbox"]["path"] = store
        raw["journal"]["path"] = store
    return raw


def run_app(tmp_path: Path, raw: dict[str, Any], codes: list[str]) -> subprocess.Popen[str]:
    script = _APP.format(tests=str(Path(__file__).parent), steps=STEPS)
    return subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(raw), json.dumps(codes)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )


def finish(p: subprocess.Popen[str]) -> list[Any]:
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    result: list[Any] = json.loads(out)
    return result


def test_two_hosts_on_one_postgres_decide_as_one_host_on_sqlite(tmp_path: Path) -> None:
    records = write_jsonl(tmp_path / "records.jsonl", mirror_rows())
    # One host on the embedded stores.
    solo = tmp_path / "solo"
    solo.mkdir()
    runner = CliRunner()
    done = runner.invoke(
        main, ["mirror", "import", str(records), "--path", str(solo / "mirror.db")]
    )
    assert done.exit_code == 0, done.output
    alone = finish(run_app(tmp_path, config(solo, None), CODES))
    with pg_schema_dsn() as dsn:
        PostgresMirror(dsn).import_jsonl(records)
        hosts = [tmp_path / "host-a", tmp_path / "host-b"]
        for h in hosts:
            h.mkdir()
        # Both hosts at once, each checking every subject.
        procs = [run_app(tmp_path, config(h, dsn), CODES) for h in hosts]
        shared = [finish(p) for p in procs]
        assert shared[0] == shared[1] == alone
        assert any(row[2] == "deny" for row in alone) and any(row[2] == "allow" for row in alone)
        # One shared outbox holds both hosts' cases; the solo host's outbox holds one set.
        solo_box = SqliteOutbox(solo / "outbox.db")
        pg_box = PostgresOutbox(dsn)
        now = time.time()
        one = solo_box.status(now=now).pending
        assert one > 0 and pg_box.status(now=now).pending == 2 * one
        solo_box.close()
        pg_box.close()
        # One shared journal: both hosts' decisions, masked, read by `creditguard journal`.
        entries = read_postgres_journal(dsn)
        assert len(entries) == 2 * len(alone)
        assert sorted((e.step, e.outcome, e.measures) for e in entries[::1]) == sorted(
            (step, outcome, tuple(ms)) for _, step, outcome, ms, _ in alone * 2
        )
        assert all(REP not in e.subject and PERSON_CLEAN not in e.subject for e in entries)
        cfg_file = tmp_path / "creditguard.toml"
        cfg_file.write_text(
            f'[guard]\ndata_dir = "{hosts[0]}"\n[journal]\npath = "{dsn}"\n', encoding="utf-8"
        )
        shown = runner.invoke(main, ["journal", "--config", str(cfg_file), "--json"])
        assert shown.exit_code == 0, shown.output
        assert len(json.loads(shown.output)["decisions"]) == 2 * len(alone)
        assert REP not in shown.output and "postgres@" not in shown.output


def test_postgres_journal_batches_masks_and_keeps_decisions_while_down(tmp_path: Path) -> None:
    from _coredata import measure_lists

    from creditguard.config import config_from_dict
    from creditguard.guard import Guard

    with pg_schema_dsn() as dsn:
        m = PostgresMirror(dsn)
        m.import_lines([json.dumps(r, ensure_ascii=False) for r in mirror_rows()])
        raw = config(tmp_path, dsn)
        g = Guard(
            config_from_dict(raw, base_dir=tmp_path),
            measure_lists=measure_lists(),
            load_entrypoints=False,
        )
        assert isinstance(g.journal, PostgresJournal) and "postgres@" not in repr(g.journal)
        for _ in range(50):
            g.check(REP, step="procurement.bid", region="320100")
        assert g.journal.pending == 50  # queued, not written in the check
        assert g.journal.flush() == 50
        entries = g.journal.entries()
        assert len(entries) == 50 and {e.subject for e in entries} == {
            REP[:6] + "********" + REP[-4:]
        }
        g.close()
        # A database that cannot be reached keeps decisions queued, never drops them.
        down = PostgresJournal(dsn, flush_interval=60)
        down._dsn = "postgresql://nobody@127.0.0.1:1/none"
        down._conn.close()  # type: ignore[union-attr]
        down._conn = None
        g2 = Guard(
            config_from_dict(config(tmp_path, None), base_dir=tmp_path),
            sources=[m],
            measure_lists=measure_lists(),
            load_entrypoints=False,
            journal=False,
        )
        down.append(g2.check(ORG_BLACK, step="procurement.bid", region="320100"))
        with pytest.raises(Exception, match="PostgreSQL journal"):
            down.flush()
        assert down.pending == 1
        down._dsn = dsn
        assert down.flush() == 1
        assert len(read_postgres_journal(dsn)) == 51
        down.close()
        g2.close()
        m.close()
