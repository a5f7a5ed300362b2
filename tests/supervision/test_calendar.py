"""Working days over China's 2025/2026 schedules, uncovered years refused, operator years checked."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from creditguard.calendar import (
    CalendarNotCovered,
    HolidayScheduleError,
    WorkdayCalendar,
    add_workdays,
    load_schedule,
)
from creditguard.cli import main

D = date.fromisoformat


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # FACTS §3: a decision during National Day 2026; chinesecalendar's find_workday is a day late here.
        ("2026-10-04", 7, "2026-10-15"),
        ("2026-09-28", 7, "2026-10-13"),
        # 2026-10-10 (Saturday) is a make-up working day: it counts.
        ("2026-10-09", 1, "2026-10-10"),
        # 2026-01-04 (Sunday) is a make-up working day after 元旦.
        ("2025-12-31", 1, "2026-01-04"),
        # Spring Festival 2026: 02-15 … 02-23 off, 02-14 and 02-28 (Saturdays) worked.
        ("2026-02-13", 1, "2026-02-14"),
        ("2026-02-14", 1, "2026-02-24"),
        ("2026-02-13", 7, "2026-03-02"),
        # Spring Festival 2025: 01-28 … 02-04 off, 01-26 (Sunday) and 02-08 (Saturday) worked.
        ("2025-01-24", 1, "2025-01-26"),
        ("2025-01-27", 1, "2025-02-05"),
        ("2025-02-05", 3, "2025-02-08"),
        # 2025 National Day: 10-01 … 10-08 off; 09-28 (Sunday) and 10-11 (Saturday) worked.
        ("2025-09-26", 1, "2025-09-28"),
        ("2025-09-30", 1, "2025-10-09"),
        ("2025-09-30", 3, "2025-10-11"),
        # Labour Day 2026: 05-01 … 05-05 off, 05-09 (Saturday) worked; a plain weekend does not count.
        ("2026-04-30", 3, "2026-05-08"),
        ("2026-04-30", 4, "2026-05-09"),
        ("2026-05-08", 1, "2026-05-09"),
        ("2026-05-09", 1, "2026-05-11"),
        # Withdrawal within 3 working days across Qingming 2026 (04-04 … 04-06).
        ("2026-04-03", 3, "2026-04-09"),
    ],
)
def test_known_deadlines(start: str, n: int, expected: str) -> None:
    assert add_workdays(D(start), n) == D(expected)


def test_every_day_of_the_shipped_years_is_classified_as_the_notices_say() -> None:
    cal = WorkdayCalendar.load(None)
    assert cal.covered_years == (2025, 2026)
    counts = {}
    for year in (2025, 2026):
        day, n = date(year, 1, 1), 0
        while day.year == year:
            n += cal.is_workday(day)
            day += timedelta(days=1)
        counts[year] = n
    # 2025: 261 weekdays - 18 weekday holidays + 5 make-up days; 2026: 261 - 19 + 6
    # (the same classification as chinesecalendar 1.11.0, cross-checked once by hand)
    assert counts == {2025: 248, 2026: 248}


@pytest.mark.parametrize("start", ["2024-12-31", "2026-12-25", "2027-01-04"])
def test_a_count_touching_an_uncovered_year_is_refused(start: str) -> None:
    with pytest.raises(CalendarNotCovered) as info:
        add_workdays(D(start), 7)
    assert info.value.covered == (2025, 2026)
    assert "State Council" in str(info.value)


@pytest.mark.parametrize("n", [0, -1, True])
def test_n_must_be_at_least_one(n: int) -> None:
    with pytest.raises(ValueError):
        add_workdays(D("2026-03-02"), n)


def _write(folder: Path, year: int, body: str) -> None:
    (folder / f"{year}.toml").write_text(body, encoding="utf-8")


def test_an_operator_adds_a_year_in_a_documented_folder(tmp_path: Path) -> None:
    _write(
        tmp_path,
        2027,
        'year = 2027\nsource = "operator test schedule"\n'
        'holidays = ["2027-01-01"]\nworkdays = ["2027-01-02"]\n',
    )
    cal = WorkdayCalendar.load(tmp_path)
    assert cal.covered_years == (2025, 2026, 2027)
    assert cal.add_workdays(D("2026-12-31"), 1) == D("2027-01-02")
    with pytest.raises(CalendarNotCovered):
        cal.add_workdays(D("2027-12-30"), 3)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            'year = 2027\nsource = "x"\nholidays = ["2027-01-01"]\nworkdays = ["2027-01-01"]',
            "listed twice",
        ),
        ('year = 2027\nsource = "x"\nholidays = ["2027-01-01", "2027-01-01"]', "listed twice"),
        ('year = 2027\nsource = "x"\nholidays = ["2028-01-01"]', "not in 2027"),
        (
            'year = 2027\nsource = "x"\nholidays = ["2027-01-01"]\nworkdays = ["2027-01-04"]',
            "Saturday or Sunday",
        ),
        ('year = 2027\nsource = "x"\nholidays = []', "empty"),
        ('year = 2027\nsource = "x"\nholidays = ["2027-02-30"]', "not a YYYY-MM-DD"),
        ('year = "2027"\nsource = "x"\nholidays = ["2027-01-01"]', "integer"),
        ('year = 2027\nholidays = ["2027-01-01"]', "source"),
        ('year = 2027\nsource = "x"\nholiday = ["2027-01-01"]', "unknown key"),
        ('year = 2026\nsource = "x"\nholidays = ["2026-01-01"]', "must be named"),
    ],
)
def test_a_bad_operator_file_is_refused_naming_file_and_day(
    tmp_path: Path, body: str, words: str
) -> None:
    _write(tmp_path, 2027, body)
    with pytest.raises(HolidayScheduleError) as info:
        WorkdayCalendar.load(tmp_path)
    assert words in str(info.value)
    assert "2027.toml" in str(info.value)


def test_a_shipped_year_cannot_be_given_twice(tmp_path: Path) -> None:
    _write(tmp_path, 2026, 'year = 2026\nsource = "x"\nholidays = ["2026-01-01"]\n')
    with pytest.raises(HolidayScheduleError, match="already covered"):
        WorkdayCalendar.load(tmp_path)


def test_a_missing_folder_is_an_error_not_silence(tmp_path: Path) -> None:
    with pytest.raises(HolidayScheduleError, match="does not exist"):
        WorkdayCalendar.load(tmp_path / "nope")


def test_load_schedule_accepts_toml_dates() -> None:
    s = load_schedule({"year": 2027, "source": "x", "holidays": [date(2027, 1, 1)]})
    assert not s.is_workday(date(2027, 1, 1)) and s.is_workday(date(2027, 1, 4))


def test_cli_prints_the_deadline_and_exits_1_when_uncovered(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["workdays", "2026-10-04", "7"])
    assert ok.exit_code == 0 and ok.output.strip() == "2026-10-15"
    js = runner.invoke(main, ["workdays", "2026-09-28", "7", "--json"])
    assert json.loads(js.output)["deadline"] == "2026-10-13"
    bad = runner.invoke(main, ["workdays", "2026-12-28", "7"])
    assert bad.exit_code == 1 and "no holiday schedule for 2027" in bad.output
    _write(tmp_path, 2027, 'year = 2027\nsource = "x"\nholidays = ["2027-01-01"]\n')
    added = runner.invoke(main, ["workdays", "2026-12-28", "7", "--holidays", str(tmp_path)])
    assert added.exit_code == 0 and added.output.strip() == "2027-01-07"
    assert runner.invoke(main, ["workdays", "2026-13-01", "7"]).exit_code == 1
