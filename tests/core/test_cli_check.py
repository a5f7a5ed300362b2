"""``creditguard check``, ``mirror``, ``journal`` and ``plugins`` through click's CliRunner."""

from __future__ import annotations

import json
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from _coredata import (
    ORG_BLACK,
    ORG_CLEAN,
    ORG_EXPIRED,
    ORG_FOCUS,
    REP,
    TODAY,
    city_list_data,
    mirror_rows,
    province_list_data,
    write_jsonl,
)
from click.testing import CliRunner, Result

from creditguard.cli import main


@pytest.fixture
def home(tmp_path: Path, records_file: Path) -> Path:
    """A config folder: creditguard.toml, two measure-list files, the mirror imported by the CLI."""
    lists = tmp_path / "conf" / "lists"
    lists.mkdir(parents=True)
    (lists / "320100.json").write_text(
        json.dumps(city_list_data(), ensure_ascii=False), encoding="utf-8"
    )
    (lists / "320000.json").write_text(
        json.dumps(province_list_data(), ensure_ascii=False), encoding="utf-8"
    )
    cfg = tmp_path / "conf" / "creditguard.toml"
    cfg.write_text(
        '[guard]\ndata_dir = "var"\n[measures]\npacks = false\nfiles = ["lists/*.json"]\n',
        encoding="utf-8",
    )
    result = cli(cfg, "mirror", "import", str(records_file))
    assert result.exit_code == 0, result.output
    return cfg


def cli(cfg: Path | None, *args: str) -> Result:
    # Real entry-point plugins of the environment are blocked: the core alone is under test.
    blocked = ",".join(sorted({ep.name for ep in entry_points(group="creditguard")}))
    env = {"CREDITGUARD_CONFIG": str(cfg) if cfg else None, "CREDITGUARD_DISABLE_PLUGINS": blocked}
    return CliRunner().invoke(main, list(args), env=env)


@pytest.mark.parametrize(
    ("code", "step", "status"),
    [
        (ORG_CLEAN, "procurement.bid", 0),
        (ORG_BLACK, "market.entry", 0),  # notify allows
        (ORG_FOCUS, "licensing.accept", 3),
        (ORG_BLACK, "subsidy.apply", 4),
        (ORG_BLACK, "procurement.bid", 5),
        (REP, "appointment.qualify", 5),
    ],
)
def test_exit_code_by_outcome(home: Path, code: str, step: str, status: int) -> None:
    result = cli(home, "check", code, "--step", step, "--region", "320100")
    assert result.exit_code == status, result.output


def test_human_output(home: Path) -> None:
    result = cli(home, "check", ORG_BLACK, "--step", "procurement.bid", "--region", "320100")
    out = result.stdout
    assert out.splitlines()[0].startswith("DENY") and ORG_BLACK in out.splitlines()[0]
    assert "NJ-01" in out and "限制参加政府采购活动" in out and "list 320100 v2026.1" in out
    assert "异议" in out and "信用修复" in out and "《中华人民共和国政府采购法》第七十七条" in out


def test_human_output_masks_person(home: Path) -> None:
    result = cli(home, "check", REP, "--step", "appointment.qualify", "--region", "320100")
    assert REP not in result.output and REP[:6] + "********" + REP[-4:] in result.stdout


def test_json_shape(home: Path) -> None:
    result = cli(
        home, "check", ORG_FOCUS, "--step", "licensing.accept", "--region", "320100", "--json"
    )
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert {
        "decision_id",
        "subject_code",
        "subject_kind",
        "step",
        "region",
        "as_of",
        "outcome",
        "records",
        "measures",
        "conditions",
        "list_region",
        "list_version",
        "provenance",
        "verified",
        "stale",
        "degraded_reason",
        "decided_at",
        "explanation",
    } <= set(data)
    assert data["outcome"] == "review" and data["as_of"] == TODAY.isoformat()
    assert [m["code"] for m in data["measures"]] == ["NJ-03"]
    assert [m["code"] for m in data["conditions"]] == ["NJ-04"]
    assert data["measures"][0]["legal_basis"] == [
        {"title": "《上海市社会信用条例》第三十条", "article": "", "level": None}
    ]
    assert data["provenance"][0]["source"] == "mirror" and data["verified"] is True
    assert data["records"][0]["record"]["record_id"] == "TAX-F-1"


def test_as_of_replay(home: Path) -> None:
    args = ("check", ORG_EXPIRED, "--step", "procurement.bid", "--region", "320100", "--json")
    assert cli(home, *args).exit_code == 0
    past = (TODAY - timedelta(days=15)).isoformat()
    result = cli(home, *args, "--as-of", past)
    assert result.exit_code == 5 and json.loads(result.stdout)["as_of"] == past


def test_check_is_journaled(home: Path) -> None:
    cli(home, "check", ORG_BLACK, "--step", "procurement.bid", "--region", "320100")
    result = cli(home, "journal", "--json")
    assert result.exit_code == 0 and [
        d["outcome"] for d in json.loads(result.stdout)["decisions"]
    ] == ["deny"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--region", "320100", "--step", "procurement.bid", "91320100MA1W2K7D40"), "invalid code"),
        (("--region", "32010", "--step", "procurement.bid", ORG_BLACK), "region"),
    ],
)
def test_errors_exit_1(home: Path, args: tuple[str, ...], needle: str) -> None:
    result = cli(home, "check", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and needle in result.stderr


@pytest.mark.parametrize(
    ("step", "needle"),
    [("Procurement", "step must be dotted lower-case"), ("procurment.bid", "procurement.bid")],
)
def test_unknown_step_is_usage_error(home: Path, step: str, needle: str) -> None:
    result = cli(home, "check", ORG_BLACK, "--step", step, "--region", "320100")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and needle in result.stderr
    assert result.stdout == ""  # no decision printed


def test_region_without_list_is_usage_error(home: Path) -> None:
    # The configuration has no measure list for the region: a ConfigError, exit 2.
    result = cli(home, "check", ORG_BLACK, "--step", "procurement.bid", "--region", "110000")
    assert result.exit_code == 2 and "110000" in result.stderr


def test_bad_config_is_usage_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[guard]\ncolour = 'red'\n", encoding="utf-8")
    result = cli(cfg, "check", ORG_BLACK, "--step", "procurement.bid", "--region", "320100")
    assert result.exit_code == 2 and "guard.colour: unknown setting" in result.stderr


def test_missing_step_is_usage_error(home: Path) -> None:
    result = cli(home, "check", ORG_BLACK, "--region", "320100")
    assert result.exit_code == 2 and "--step" in result.stderr


def test_bad_as_of_is_usage_error(home: Path) -> None:
    result = cli(
        home,
        "check",
        ORG_BLACK,
        "--step",
        "procurement.bid",
        "--region",
        "320100",
        "--as-of",
        "2026/1/1",
    )
    assert result.exit_code == 2


# -- mirror ----------------------------------------------------------------------------


def test_mirror_import_good(tmp_path: Path, records_file: Path) -> None:
    db = tmp_path / "m.db"
    result = cli(None, "mirror", "import", str(records_file), "--path", str(db), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("schema_version", "file", "mirror", "lines", "records")} == {
        "schema_version": 1,
        "file": str(records_file),
        "mirror": str(db),
        "lines": 8,
        "records": 8,
    }
    assert (report["subjects"], report["added"], report["refused"]) == (6, 8, 0)
    again = cli(None, "mirror", "import", str(records_file), "--path", str(db))
    assert again.exit_code == 0 and ": 0 changed (records: 0 added" in again.stdout
    stats = cli(None, "mirror", "stats", "--path", str(db), "--json")
    got = json.loads(stats.stdout)
    assert {k: got[k] for k in ("schema_version", "mirror", "subjects", "records")} == {
        "schema_version": 1,
        "mirror": str(db),
        "subjects": 6,
        "records": 8,
    }
    assert got["usable"] is True and got["removed"] == 0


def test_mirror_import_bad(tmp_path: Path) -> None:
    rows: list[Any] = mirror_rows()
    rows[4]["record"]["listed_on"] = "someday"
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    db = tmp_path / "m.db"
    result = cli(None, "mirror", "import", str(bad), "--path", str(db))
    assert result.exit_code == 1
    assert f"{bad}:5:" in result.stderr and "record.listed_on" in result.stderr
    stats = cli(None, "mirror", "stats", "--path", str(db), "--json")
    assert json.loads(stats.stdout)["records"] == 0


def test_mirror_import_uses_config(home: Path) -> None:
    stats = cli(home, "mirror", "stats")
    assert stats.exit_code == 0
    assert (
        str(home.parent / "var" / "mirror.db") in stats.stdout
        and "6 subject(s), 8 record(s)" in stats.stdout
    )


def test_mirror_import_missing_file(tmp_path: Path) -> None:
    result = cli(
        None, "mirror", "import", str(tmp_path / "none.jsonl"), "--path", str(tmp_path / "m.db")
    )
    assert result.exit_code == 2


# -- journal and plugins -----------------------------------------------------------------


def test_journal_empty(tmp_path: Path) -> None:
    result = cli(None, "journal", "--path", str(tmp_path / "j.db"))
    assert result.exit_code == 0 and "no decisions" in result.stdout


def test_plugins_json(fake_dist: str) -> None:
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    data = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    assert set(data) == {"creditguard.defaults", fake_dist}
    assert data["creditguard.defaults"]["hooks"] == ["creditguard_register_sources"]
    assert data["creditguard.defaults"]["version"]
    assert data[fake_dist] == {
        "name": fake_dist,
        "version": "1.0",
        "hooks": ["creditguard_decision_made", "creditguard_register_sources"],
    }


def test_plugins_human(fake_dist: str) -> None:
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0
    assert f"{fake_dist} 1.0" in result.stdout and "    creditguard_decision_made" in result.stdout
