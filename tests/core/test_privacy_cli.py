"""Default CLI output never shows a person's number whole; ``check --unmask`` does, journaled first."""

from __future__ import annotations

import json
import os
import stat
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from _coredata import ORG_BLACK, REP, city_list_data, province_list_data
from click.testing import CliRunner, Result

from creditguard.cli import main
from creditguard.masking import unmasked_numbers
from creditguard.unmask_log import read_unmaskings

MASKED_REP = REP[:6] + "********" + REP[-4:]


@pytest.fixture
def home(tmp_path: Path, records_file: Path) -> Path:
    lists = tmp_path / "conf" / "lists"
    lists.mkdir(parents=True)
    for region, data in (("320100", city_list_data()), ("320000", province_list_data())):
        (lists / f"{region}.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    cfg = tmp_path / "conf" / "creditguard.toml"
    cfg.write_text(
        '[guard]\ndata_dir = "var"\n[measures]\npacks = false\nfiles = ["lists/*.json"]\n',
        encoding="utf-8",
    )
    assert cli(cfg, "mirror", "import", str(records_file)).exit_code == 0
    return cfg


def cli(cfg: Path, *args: str) -> Result:
    blocked = ",".join(sorted({ep.name for ep in entry_points(group="creditguard")}))
    env = {"CREDITGUARD_CONFIG": str(cfg), "CREDITGUARD_DISABLE_PLUGINS": blocked}
    return CliRunner().invoke(main, list(args), env=env)


def _check(cfg: Path, *extra: str) -> Result:
    return cli(cfg, "check", REP, "--step", "procurement.bid", "--region", "320100", *extra)


def test_check_output_is_masked_by_default(home: Path) -> None:
    for extra in ((), ("--json",)):
        result = _check(home, *extra)
        assert result.exit_code in (0, 3, 4, 5), result.output
        assert REP not in result.output and not unmasked_numbers(result.output)
        assert MASKED_REP in result.output
    data = json.loads(_check(home, "--json").stdout)
    assert data["schema_version"] == 1 and data["subject_code"] == MASKED_REP


@pytest.mark.shows_personal_data  # the point of --unmask
def test_check_unmask_is_journaled_first(home: Path) -> None:
    result = _check(home, "--json", "--unmask")
    assert result.exit_code in (0, 3, 4, 5), result.output
    data = json.loads(result.stdout)
    assert data["subject_code"] == REP
    journal = home.parent / "var" / "journal.db"
    rows = read_unmaskings(journal)
    assert len(rows) == 1
    assert rows[0]["command"] == "check --unmask" and rows[0]["decision_id"] == data["decision_id"]
    assert rows[0]["subjects"] == [MASKED_REP]
    if os.name == "posix":
        assert stat.S_IMODE(journal.stat().st_mode) & 0o077 == 0


def test_check_unmask_refused_without_a_journal(home: Path) -> None:
    home.write_text(home.read_text("utf-8") + "[journal]\nenabled = false\n", "utf-8")
    result = _check(home, "--unmask")
    assert result.exit_code == 2
    assert REP not in result.output and "journal" in result.stderr


def test_screen_and_journal_output_are_masked(home: Path, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(f"code\n{REP}\n{ORG_BLACK}\n{REP[:-1]}\n", encoding="utf-8")
    for extra in ((), ("--json",)):
        screened = cli(
            home,
            "screen",
            str(rows),
            "--code-column",
            "code",
            "--step",
            "procurement.bid",
            "--region",
            "320100",
            *extra,
        )
        assert screened.exit_code in (0, 1), screened.output
        assert not unmasked_numbers(screened.output) and REP[:-1] not in screened.output
        assert ORG_BLACK in screened.output  # organisations stay readable
    _check(home)
    for extra in ((), ("--json",)):
        journal = cli(home, "journal", *extra)
        assert journal.exit_code == 0, journal.output
        assert REP not in journal.output and not unmasked_numbers(journal.output)
