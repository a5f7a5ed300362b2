"""Dates, identifier matching, regions and plugin registration of the Tianyancha adapter."""

from __future__ import annotations

from datetime import date

import pytest
from creditguard_tianyancha import create_source
from creditguard_tianyancha.dates import parse_date
from creditguard_tianyancha.mapping import region_of
from creditguard_tianyancha.matching import SubjectKeys

from creditguard.plugins import Hooks, build_plugin_manager


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1558281600000, date(2019, 5, 20)),  # epoch ms, 16:00 UTC the day before
        ("1558281600000", date(2019, 5, 20)),
        (1558281600, date(2019, 5, 20)),  # epoch seconds
        ("2019-05-20", date(2019, 5, 20)),
        ("2019-05-20 00:00:00", date(2019, 5, 20)),
        ("2019/5/20", date(2019, 5, 20)),
        ("2019年05月20日", date(2019, 5, 20)),
        ("2019年5月2日", date(2019, 5, 2)),
        ("20190520", date(2019, 5, 20)),
        ("2019-05-19T16:00:00Z", date(2019, 5, 20)),
        ("2019-05-20T08:00:00", date(2019, 5, 20)),
    ],
)
def test_dates_in_every_agency_format(value: object, expected: date) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    "value", [None, "", "  ", 0, -5, "2019-02-30", "soon", True, [], "2019-13-01T00:00"]
)
def test_unreadable_dates_are_none(value: object) -> None:
    assert parse_date(value) is None


ORG = SubjectKeys.of("91110000710925462X")
PERSON = SubjectKeys.of("320102198005141232")


@pytest.mark.parametrize(
    ("keys", "identifier", "expected"),
    [
        (ORG, "91110000710925462X", "exact"),
        (ORG, "91110000710925462x", "exact"),
        (ORG, "71092546-2", "exact"),
        (ORG, "710925462", "exact"),
        (ORG, "７１０９２５４６－２", "exact"),  # full-width
        (ORG, "71092546-3", "other"),
        (ORG, "9144030071526726XG", "other"),
        (ORG, "9111000071092****X", "masked"),
        (ORG, "9144000071092****X", "other"),
        (ORG, "", "name_only"),
        (ORG, None, "name_only"),
        (PERSON, "320102198005141232", "exact"),
        (PERSON, "320102800514123", "exact"),
        (PERSON, "3201021980****1232", "masked"),
        (PERSON, "3201021980＊＊＊＊1232", "masked"),
        (PERSON, "320102********1232", "masked"),
        (PERSON, "3201021975****1232", "other"),
        (PERSON, "320102****", "masked"),  # cannot line up: leave it to a person
        (PERSON, "320102198005141240", "other"),
    ],
)
def test_identifier_classification(keys: SubjectKeys, identifier: object, expected: str) -> None:
    assert keys.classify(identifier) == expected


def test_person_keys_are_shown_masked() -> None:
    assert PERSON.shown == "320102********1232"
    assert ORG.shown == "91110000710925462X"


def test_a_code_that_does_not_parse_matches_only_itself() -> None:
    keys = SubjectKeys.of("12345")
    assert keys.kind is None
    assert keys.classify("12345") == "exact"
    assert keys.shown == "*****"


@pytest.mark.parametrize(
    ("areaname", "code"),
    [("北京", "110000"), ("江苏省", "320000"), ("内蒙古自治区", "150000"), ("陕西", "610000"),
     ("山西", "140000"), ("兵团", ""), ("", ""), (None, "")],
)  # fmt: skip
def test_region_from_area_name(areaname: object, code: str) -> None:
    assert region_of(areaname) == code


def test_plugin_registers_the_source_type() -> None:
    factories = Hooks(build_plugin_manager()).register_sources()
    assert factories["tianyancha"] is create_source
