"""Shared agency-adapter logic in the core: identifier matching, agency dates, HTTP answers.

Covers :mod:`creditguard.identifiers`, :mod:`creditguard.agency_dates`,
:mod:`creditguard.agency_http` and :mod:`creditguard.testing.exchange`.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from datetime import date, datetime, timedelta

import httpx
import pytest

from creditguard.agency_dates import CST, parse_date
from creditguard.agency_http import EXCERPT_CHARS, excerpt, json_body, raise_for_status, scrub
from creditguard.errors import SourceRefused, SourceUnavailable
from creditguard.identifiers import SubjectKeys
from creditguard.models import SubjectRecords
from creditguard.testing.exchange import (
    answer_always,
    answer_in_turn,
    answer_pages,
    drive_exchange,
    instant_driver,
)

USCC = "91110000710925462X"
ORG = SubjectKeys.of(USCC)
PERSON = SubjectKeys.of("320102198005141232")
PERSON_X = SubjectKeys.of("32010219800514103X")  # check character X
PERSON_2005 = SubjectKeys.of("110105200501011234")  # born after the 15-digit era


# --- identifiers: the keys of a subject -----------------------------------------


def test_organisation_keys_are_the_uscc_and_its_embedded_organisation_code() -> None:
    assert ORG.kind == "organization"
    assert ORG.exact == {USCC, "710925462"}
    assert ORG.keyword == USCC
    assert ORG.shown == USCC  # organisation codes are public


def test_person_keys_include_the_15_digit_form_for_20th_century_births() -> None:
    assert PERSON.kind == "person"
    assert PERSON.exact == {"320102198005141232", "320102800514123"}
    assert PERSON_2005.exact == {"110105200501011234"}


def test_person_keys_are_shown_masked() -> None:
    assert PERSON.shown == "320102********1232"


def test_keys_keep_the_code_as_given_and_send_it_normalised() -> None:
    keys = SubjectKeys.of(" 91110000710925462x ")
    assert keys.code == " 91110000710925462x "
    assert keys.keyword == USCC
    legacy = SubjectKeys.of("320102800514123")
    assert legacy.keyword == "320102198005141232"
    assert legacy.classify("320102198005141232") == "exact"


def test_a_code_that_does_not_parse_matches_only_itself_and_is_never_shown() -> None:
    keys = SubjectKeys.of("12345")
    assert keys.kind is None
    assert keys.classify("12345") == "exact"
    assert keys.classify("123456") == "other"
    assert keys.shown == "*****"
    assert SubjectKeys.of("320102198005141233").shown == "320102********1233"  # bad check char


# --- identifiers: classifying what the agency returned ----------------------------


@pytest.mark.parametrize(
    ("keys", "identifier", "expected"),
    [
        # organisation: the USCC, normalised
        (ORG, USCC, "exact"),
        (ORG, "91110000710925462x", "exact"),
        (ORG, " 9111 0000 7109 2546 2X ", "exact"),
        (ORG, "９１１１００００７１０９２５４６２Ｘ", "exact"),  # full-width
        # organisation: the GB 11714 code at positions 9–17, with or without hyphen
        (ORG, "71092546-2", "exact"),
        (ORG, "710925462", "exact"),
        (ORG, 710925462, "exact"),  # a number, as some payloads carry it
        (ORG, "７１０９２５４６－２", "exact"),
        (ORG, "71092546-3", "other"),
        (ORG, "91110000710925463X", "other"),
        (ORG, "9144030071526726XG", "other"),
        # organisation: masked identifiers
        (ORG, "9111000071092****X", "masked"),
        (ORG, "9144000071092****X", "other"),
        (ORG, "7109****2", "masked"),
        (ORG, "####", "masked"),  # cannot line up: leave it to a person
        # person: the 18-character number and its legacy 15-digit form
        (PERSON, "320102198005141232", "exact"),
        (PERSON, "320102800514123", "exact"),
        (PERSON, 320102800514123, "exact"),
        (PERSON, "320102198005141240", "other"),
        (PERSON, "320102800514124", "other"),
        (PERSON, "198005141", "other"),  # positions 9–17 mean nothing for a person
        (PERSON_X, "32010219800514103x", "exact"),
        (PERSON_X, "320102800514103", "exact"),
        (PERSON_2005, "110105050101123", "other"),  # no 15-digit form after 1999
        # person: masked identifiers; X is a check character, not a mask
        (PERSON, "3201021980****1232", "masked"),
        (PERSON, "3201021980＊＊＊＊1232", "masked"),  # full-width asterisk
        (PERSON, "3201021980××××1232", "masked"),
        (PERSON, "3201021980####1232", "masked"),
        (PERSON, "320102********1232", "masked"),
        (PERSON, "320102*****4123", "masked"),  # masked 15-digit form
        (PERSON, "3201021975****1232", "other"),
        (PERSON, "320102********1233", "other"),
        (PERSON, "3201021980XXXX1232", "other"),
        (PERSON, "320102****", "masked"),  # cannot line up: leave it to a person
        # no identifier at all
        (ORG, "", "name_only"),
        (ORG, "  ", "name_only"),
        (ORG, "-", "name_only"),
        (ORG, None, "name_only"),
        (ORG, ["91110000710925462X"], "name_only"),
        (PERSON, {"cardnum": "320102198005141232"}, "name_only"),
    ],
)
def test_identifier_classification(keys: SubjectKeys, identifier: object, expected: str) -> None:
    assert keys.classify(identifier) == expected


# --- agency dates ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1558281600000, date(2019, 5, 20)),  # epoch ms: 16:00 UTC the day before
        (1558281599999, date(2019, 5, 19)),  # one millisecond earlier is still the 19th in CST
        (1558281600000.0, date(2019, 5, 20)),
        ("1558281600000", date(2019, 5, 20)),
        (1558281600, date(2019, 5, 20)),  # epoch seconds
        ("1558281600", date(2019, 5, 20)),
        ("2019-05-20", date(2019, 5, 20)),
        (" 2019-05-20 ", date(2019, 5, 20)),
        ("2019-05-20 00:00:00", date(2019, 5, 20)),
        ("2019-05-20 23:59:59", date(2019, 5, 20)),  # a time without offset is taken as CST
        ("2019/5/20", date(2019, 5, 20)),
        ("2019.05.20", date(2019, 5, 20)),
        ("2019年05月20日", date(2019, 5, 20)),
        ("2019年5月2日", date(2019, 5, 2)),
        ("2019 年 5 月 20 日", date(2019, 5, 20)),
        ("20190520", date(2019, 5, 20)),
        ("2019-05-19T16:00:00Z", date(2019, 5, 20)),
        ("2019-05-19T16:00:00+00:00", date(2019, 5, 20)),
        ("2019-05-20T23:30:00+08:00", date(2019, 5, 20)),
        ("2019-05-20T08:00:00", date(2019, 5, 20)),  # naive: taken as written
    ],
)
def test_dates_in_every_agency_format(value: object, expected: date) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None, "", "  ", 0, 0.0, "0", -5, True, False, [], {}, "soon", "暂无",
        "2019-02-30", "0001-00-00", "20191340", "2019-13-01T00:00", "2019-05-20Tnoon",
        10**30,  # beyond any calendar
    ],
)  # fmt: skip
def test_unreadable_dates_are_none(value: object) -> None:
    assert parse_date(value) is None


def test_cst_is_utc_plus_8_without_daylight_saving() -> None:
    assert CST.utcoffset(None) == timedelta(hours=8)
    assert datetime(2019, 7, 1, tzinfo=CST).utcoffset() == timedelta(hours=8)


# --- agency HTTP answers ---------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_busy_statuses_are_unavailable_with_retry_after(status: int) -> None:
    response = httpx.Response(status, headers={"Retry-After": "7"}, text="busy TOKEN")
    with pytest.raises(SourceUnavailable) as caught:
        raise_for_status(response, source="agency", secrets=("TOKEN",))
    assert caught.value.status == status
    assert caught.value.retry_after == 7.0
    assert caught.value.excerpt == "busy ***"


def test_a_retry_after_date_in_the_past_means_now() -> None:
    # One Retry-After parser (remote.retry): an HTTP-date is read, and one already past waits 0 s.
    response = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    with pytest.raises(SourceUnavailable) as caught:
        raise_for_status(response, source="agency")
    assert caught.value.retry_after == 0.0


def test_an_unreadable_retry_after_is_ignored() -> None:
    response = httpx.Response(503, headers={"Retry-After": "soon, Wed 2015"})
    with pytest.raises(SourceUnavailable) as caught:
        raise_for_status(response, source="agency")
    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [301, 400, 401, 403, 404])
def test_other_non_2xx_statuses_are_refused(status: int) -> None:
    with pytest.raises(SourceRefused) as caught:
        raise_for_status(httpx.Response(status, text="denied"), source="agency")
    assert caught.value.status == status
    assert caught.value.excerpt == "denied"


@pytest.mark.parametrize("status", [200, 204, 299])
def test_2xx_statuses_pass(status: int) -> None:
    raise_for_status(httpx.Response(status), source="agency")


def test_json_body_is_none_unless_json() -> None:
    assert json_body(httpx.Response(200, json={"a": 1})) == {"a": 1}
    assert json_body(httpx.Response(200, text="<html>gateway</html>")) is None
    assert json_body(httpx.Response(200, content=b"\xff\xfe")) is None


def test_excerpt_is_cut_and_scrubbed() -> None:
    body = "SECRET " + "界" * 1000
    text = excerpt(httpx.Response(200, text=body), ("SECRET", ""))
    assert len(text) == EXCERPT_CHARS
    assert text.startswith("*** 界")
    assert scrub("a SECRET b SECRET", ("SECRET", "")) == "a *** b ***"


# --- the exchange driver for adapter tests ---------------------------------------


def _paging_exchange(
    codes: list[str],
) -> Generator[httpx.Request, httpx.Response, Mapping[str, SubjectRecords]]:
    results: dict[str, SubjectRecords] = {}
    for code in codes:
        page = 1
        while True:
            response = yield httpx.Request(
                "GET", "http://agency.test/list", params={"kw": code, "p": page}
            )
            if not response.json()["more"]:
                break
            page += 1
        results[code] = SubjectRecords(code=code, found=page > 1)
    return results


def test_drive_exchange_answers_every_request_and_records_them() -> None:
    handler = answer_pages("p", {"more": True}, {"more": False})
    result, sent = drive_exchange(_paging_exchange([USCC, "x"]), handler)
    assert [dict(r.url.params) for r in sent] == [
        {"kw": USCC, "p": "1"},
        {"kw": USCC, "p": "2"},
        {"kw": "x", "p": "1"},
        {"kw": "x", "p": "2"},
    ]
    assert result[USCC].found is True


def test_drive_exchange_lets_the_adapters_exceptions_through() -> None:
    with pytest.raises(ValueError):  # the body is not JSON
        drive_exchange(_paging_exchange([USCC]), answer_always(200, text="<html>"))


class _BusyOnceSource:
    """An HttpSource whose agency says "busy" in a ``{"busy": true}`` body."""

    name = "agency"
    max_batch = 1
    base_url = "http://agency.test"

    def exchange(
        self, codes: Sequence[str], *, include_related: bool = False
    ) -> Generator[httpx.Request, httpx.Response, Mapping[str, SubjectRecords]]:
        response = yield httpx.Request("GET", f"{self.base_url}/list", params={"kw": codes[0]})
        if response.json().get("busy"):
            raise SourceUnavailable("busy", source=self.name)
        return {code: SubjectRecords(code=code, found=True) for code in codes}


def test_answer_in_turn_repeats_the_last_body_and_records_requests() -> None:
    sent: list[httpx.Request] = [httpx.Request("GET", "http://earlier.test")]
    handle = answer_in_turn({"n": 1}, {"n": 2}, sent=sent)
    bodies = [handle(httpx.Request("GET", f"http://agency.test/{i}")).json() for i in range(3)]
    assert bodies == [{"n": 1}, {"n": 2}, {"n": 2}]
    assert len(sent) == 4
    with pytest.raises(ValueError):
        answer_in_turn()


def test_instant_driver_retries_unavailable_without_waiting() -> None:
    sent: list[httpx.Request] = []
    handler = answer_in_turn({"busy": True}, {"busy": True}, {"busy": False}, sent=sent)
    with instant_driver(handler) as driver:
        result = driver.fetch(_BusyOnceSource(), [USCC])
    assert len(sent) == 3
    assert result[USCC].found is True


def test_instant_driver_gives_up_when_the_agency_stays_busy() -> None:
    sent: list[httpx.Request] = []
    handler = answer_in_turn({"busy": True}, sent=sent)
    with instant_driver(handler) as driver, pytest.raises(SourceUnavailable):
        driver.fetch(_BusyOnceSource(), [USCC])
    assert 1 < len(sent) <= 10
