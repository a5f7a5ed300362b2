"""Working days of China: statutory holidays and make-up working days as data (FACTS §3).

A deadline "within N working days of a decision" is the Nth working day
counted strictly after the decision's date (民法典 Arts 201, 203; 行政处罚法
Art 85). A working day is a Monday–Friday that is not a statutory holiday, or
a Saturday/Sunday the State Council designates as a make-up working day
(调休上班).

The State Council publishes each year's schedule around November, so the
schedule is data, one TOML file per year, with an explicit list of covered
years. The years shipped here (``creditguard/data/holidays/``) are the
verified ones; an operator adds a later year from the official notice by
writing ``YYYY.toml`` in a folder named by ``[supervision] holidays_dir`` or
``$CREDITGUARD_HOLIDAYS_DIR`` (format in docs/supervision.md). A count that
touches a year no file covers raises :class:`CalendarNotCovered`: a deadline
is never guessed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from creditguard.errors import ConfigError, CreditGuardError

__all__ = [
    "HOLIDAYS_ENV",
    "CalendarNotCovered",
    "HolidaySchedule",
    "HolidayScheduleError",
    "WorkdayCalendar",
    "add_workdays",
    "default_calendar",
    "load_schedule",
]

#: Environment variable naming a folder of operator-added ``YYYY.toml`` schedules.
HOLIDAYS_ENV = "CREDITGUARD_HOLIDAYS_DIR"


class CalendarNotCovered(CreditGuardError):
    """A working-day count needs a year whose holiday schedule is not known.

    ``year`` is the first uncovered year met; ``covered`` the years known.
    The message says how to add a year (from the State Council's notice).
    """

    def __init__(self, year: int, covered: Iterable[int]) -> None:
        self.year = year
        self.covered = tuple(sorted(covered))
        known = ", ".join(str(y) for y in self.covered) or "none"
        super().__init__(
            f"no holiday schedule for {year} (covered years: {known}); working days cannot be "
            f"counted there. Add {year}.toml from the State Council's notice to the folder named "
            f"by [supervision] holidays_dir or ${HOLIDAYS_ENV} (see docs/supervision.md)"
        )


class HolidayScheduleError(ConfigError):
    """A holiday schedule file is malformed: the message names the file and the day or field."""


@dataclass(frozen=True, slots=True)
class HolidaySchedule:
    """One year's schedule: statutory days off and make-up working days."""

    year: int
    source: str
    holidays: frozenset[date]
    workdays: frozenset[date]
    origin: str = ""

    def is_workday(self, day: date) -> bool:
        """True when ``day`` (in this year) is a working day."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def _dates(raw: Mapping[str, Any], name: str, year: int, where: str) -> list[date]:
    value = raw.get(name, [])
    if not isinstance(value, list):
        raise HolidayScheduleError(f"{where}: {name} must be a list of dates")
    out: list[date] = []
    for i, item in enumerate(value):
        if isinstance(item, date):
            day = item
        elif isinstance(item, str):
            try:
                day = date.fromisoformat(item)
            except ValueError:
                raise HolidayScheduleError(
                    f"{where}: {name}[{i}] = {item!r} is not a YYYY-MM-DD date"
                ) from None
        else:
            raise HolidayScheduleError(f"{where}: {name}[{i}] must be a date")
        if day.year != year:
            raise HolidayScheduleError(f"{where}: {name}[{i}] {day} is not in {year}")
        out.append(day)
    return out


def load_schedule(raw: Mapping[str, Any], *, origin: str = "<schedule>") -> HolidaySchedule:
    """Validate one year's schedule (decoded TOML) and classify every day of the year once.

    Refused with :class:`HolidayScheduleError` naming the file and day: an
    unknown key, a year that is not an integer, a day outside the year, a day
    listed twice or as both holiday and make-up day, a make-up working day on
    a Monday–Friday (it would change nothing: a sign of a typing error), or an
    empty holiday list (every real year has some).
    """
    unknown = sorted(set(raw) - {"year", "source", "holidays", "workdays"})
    if unknown:
        raise HolidayScheduleError(f"{origin}: unknown key(s) {', '.join(unknown)}")
    year = raw.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1949 < year < 2200:
        raise HolidayScheduleError(f"{origin}: year must be an integer year, got {year!r}")
    source = raw.get("source", "")
    if not isinstance(source, str) or not source.strip():
        raise HolidayScheduleError(f"{origin}: source must name the State Council notice")
    holidays = _dates(raw, "holidays", year, origin)
    workdays = _dates(raw, "workdays", year, origin)
    if not holidays:
        raise HolidayScheduleError(
            f"{origin}: holidays is empty; every year has statutory holidays"
        )
    seen: dict[date, str] = {}
    for name, days in (("holidays", holidays), ("workdays", workdays)):
        for day in days:
            if day in seen:
                raise HolidayScheduleError(
                    f"{origin}: {day} is listed twice ({seen[day]} and {name}); "
                    "each day must be classified once"
                )
            seen[day] = name
    for day in workdays:
        if day.weekday() < 5:
            raise HolidayScheduleError(
                f"{origin}: workdays lists {day}, a {day.strftime('%A')}; make-up working days "
                "(调休上班) fall on a Saturday or Sunday"
            )
    schedule = HolidaySchedule(year, source, frozenset(holidays), frozenset(workdays), origin)
    # Every day of the year gets exactly one class: working day or day off.
    days_in_year = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    classified = sum(1 for _ in _days_of(year))
    if classified != days_in_year:  # pragma: no cover - guards _days_of itself
        raise HolidayScheduleError(f"{origin}: classified {classified} of {days_in_year} days")
    return schedule


def _days_of(year: int) -> Iterable[date]:
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


def _read_file(path: Path) -> HolidaySchedule:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise HolidayScheduleError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HolidayScheduleError(f"{path}: not valid UTF-8 TOML: {exc}") from None
    schedule = load_schedule(raw, origin=str(path))
    if path.stem != str(schedule.year):
        raise HolidayScheduleError(
            f"{path}: the file of year {schedule.year} must be named {schedule.year}.toml"
        )
    return schedule


class WorkdayCalendar:
    """Working days over the covered years of a set of schedules."""

    def __init__(self, schedules: Iterable[HolidaySchedule]) -> None:
        self._years: dict[int, HolidaySchedule] = {}
        for s in schedules:
            if s.year in self._years:
                raise HolidayScheduleError(
                    f"{s.origin}: {s.year} is already covered by {self._years[s.year].origin}; "
                    "a year has one schedule"
                )
            self._years[s.year] = s

    @classmethod
    def load(cls, extra_dir: str | os.PathLike[str] | None = None) -> WorkdayCalendar:
        """The shipped years plus ``YYYY.toml`` files in ``extra_dir`` (else ``$CREDITGUARD_HOLIDAYS_DIR``).

        A named folder that does not exist is a :class:`HolidayScheduleError`
        (a typo would otherwise silently drop the operator's years).
        """
        schedules = list(_shipped())
        folder = extra_dir if extra_dir is not None else os.environ.get(HOLIDAYS_ENV) or None
        if folder is not None:
            p = Path(folder)
            if not p.is_dir():
                raise HolidayScheduleError(f"holiday schedule folder {p} does not exist")
            schedules.extend(_read_file(f) for f in sorted(p.glob("*.toml")))
        return cls(schedules)

    @property
    def covered_years(self) -> tuple[int, ...]:
        """The years with a schedule, ascending."""
        return tuple(sorted(self._years))

    def schedule(self, year: int) -> HolidaySchedule:
        """The schedule of ``year``; :class:`CalendarNotCovered` when there is none."""
        try:
            return self._years[year]
        except KeyError:
            raise CalendarNotCovered(year, self._years) from None

    def is_workday(self, day: date) -> bool:
        """True when ``day`` is a working day; :class:`CalendarNotCovered` outside the covered years."""
        return self.schedule(day.year).is_workday(day)

    def add_workdays(self, start: date, n: int) -> date:
        """The ``n``-th working day strictly after ``start`` (``n`` ≥ 1).

        ``start`` itself never counts, whatever it is (a decision taken on a
        holiday still counts from the next working day). Both ``start``'s year
        and every year the count passes through must be covered.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"the number of working days must be a whole number ≥ 1, got {n!r}")
        self.schedule(start.year)
        day, left = start, n
        while left:
            day += timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return day


def _shipped() -> Iterable[HolidaySchedule]:
    folder = resources.files("creditguard").joinpath("data", "holidays")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            schedule = load_schedule(
                tomllib.loads(entry.read_text(encoding="utf-8")),
                origin=f"creditguard/data/holidays/{entry.name}",
            )
            yield schedule


@lru_cache(maxsize=8)
def _cached(extra_dir: str | None) -> WorkdayCalendar:
    return WorkdayCalendar.load(extra_dir)


def default_calendar(extra_dir: str | os.PathLike[str] | None = None) -> WorkdayCalendar:
    """The calendar of the shipped years and ``extra_dir`` (else ``$CREDITGUARD_HOLIDAYS_DIR``), cached."""
    folder = extra_dir if extra_dir is not None else os.environ.get(HOLIDAYS_ENV) or None
    return _cached(None if folder is None else str(Path(folder).resolve()))


def add_workdays(start: date, n: int) -> date:
    """The ``n``-th working day strictly after ``start``, China's statutory holidays and make-up days counted.

    Example (FACTS §3): a decision on 2026-10-04, during National Day, is
    published within 7 working days by 2026-10-15. Raises
    :class:`CalendarNotCovered` when the count touches a year without a
    schedule (see the module docstring for how an operator adds one).
    """
    return default_calendar().add_workdays(start, n)
