"""Dates, identifier matching and plugin registration of the Qichacha adapter."""

from __future__ import annotations

from datetime import date

import pytest
from creditguard_qichacha import create_source
from creditguard_qichacha.dates import parse_date
from creditguard_qichacha.matching import SubjectKeys

from creditguard.plugins import Hooks, build_plugin_manager


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-05-20 00:00:00", date(2019, 5, 20)),
        ("2019-05-20", date(2019, 5, 20)),
        ("2019年05月20日", date(2019, 5, 20)),
        (1558281600000, date(2019, 5, 20)),
        ("1558281600", date(2019, 5, 20)),
        ("2019-05-19T16:00:00+00:00", date(2019, 5, 20)),
    ],
)
def test_dates_in_both_formats(value: object, expected: date) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", [None, "", 0, "0001-00-00", "暂无"])
def test_unreadable_dates_are_none(value: object) -> None:
    assert parse_date(value) is None


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("91110000710925462X", "exact"),
        ("71092546-2", "exact"),
        ("710925462", "exact"),
        ("9111000071092****X", "masked"),
        ("9144030071526726XG", "other"),
        ("", "name_only"),
    ],
)
def test_identifier_classification(identifier: str, expected: str) -> None:
    assert SubjectKeys.of("91110000710925462X").classify(identifier) == expected


def test_plugin_registers_the_source_type() -> None:
    factories = Hooks(build_plugin_manager()).register_sources()
    assert factories["qichacha"] is create_source
