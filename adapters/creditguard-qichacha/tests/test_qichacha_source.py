"""The Qichacha source against recorded-shape payloads, through httpx.MockTransport."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import httpx
import pytest
from creditguard_qichacha import QichachaSource, create_source
from creditguard_qichacha.envelope import STATUS_CODES
from creditguard_qichacha.token import token
from qcc_support import always, by_page, drive, load

from creditguard.agency_dates import CST
from creditguard.errors import ConfigError, SourceRefused, SourceUnavailable
from creditguard.models import SubjectRecords
from creditguard.sources import HttpSource

USCC = "91110000710925462X"
ORG_CODE = "71092546-2"  # USCC characters 9–17, as old listings write it
PERSON = "320102198005141232"
APP_KEY = "qcc-app-key-4f1e"
SECRET = "qcc-secret-key-9a8b7c6d"
NOW = datetime(2026, 3, 2, 9, 15, tzinfo=CST).timestamp()


def source(**options: object) -> QichachaSource:
    return QichachaSource(app_key=APP_KEY, secret_key=SECRET, clock=lambda: NOW, **options)  # type: ignore[arg-type]


def lookup(
    code: str, *bodies: object, **options: object
) -> tuple[SubjectRecords, list[httpx.Request]]:
    result, sent = drive(source(**options).exchange([code]), by_page(*bodies))
    return result[code], sent


# --- requests -----------------------------------------------------------------------


def test_is_an_http_source_with_one_search_key_per_exchange() -> None:
    src = source()
    assert isinstance(src, HttpSource)
    assert src.max_batch == 1
    assert src.base_url == "https://api.qichacha.com"


def test_request_is_signed_with_token_and_timespan() -> None:
    _, sent = lookup(USCC, load("listings.json"))
    request, by_org_code = sent
    assert by_org_code.url.params["searchKey"] == ORG_CODE
    assert request.method == "GET"
    assert request.url.path == "/ShixinCheck/GetList"
    assert dict(request.url.params) == {
        "key": APP_KEY,
        "searchKey": USCC,
        "pageIndex": "1",
        "pageSize": "20",
    }
    timespan = str(int(NOW))
    assert request.headers["Timespan"] == timespan
    expected = hashlib.md5((APP_KEY + timespan + SECRET).encode()).hexdigest().upper()
    assert request.headers["Token"] == expected
    assert SECRET not in str(request.url)


def test_token_is_upper_case_md5_of_key_timespan_secret_in_that_order() -> None:
    assert token("key", "1700000000", "secret") == "F82D2EC0DA9D602FB2F633CEBEBDE66E"


def test_each_page_is_signed_with_the_time_it_is_built() -> None:
    times = iter([NOW, NOW + 1, NOW + 2])
    src = QichachaSource(
        app_key=APP_KEY,
        secret_key=SECRET,
        clock=lambda: next(times),
        page_size=2,
        search_organisation_code=False,
    )
    _, sent = drive(
        src.exchange([USCC]), by_page(load("page1.json"), load("page2.json"), load("page3.json"))
    )
    assert [r.headers["Timespan"] for r in sent] == [
        str(int(NOW)),
        str(int(NOW) + 1),
        str(int(NOW) + 2),
    ]


# --- matching -----------------------------------------------------------------------


def test_listings_without_identifier_are_possible_matches_only() -> None:
    records, _ = lookup(USCC, load("listings.json"))
    assert records.records == ()
    assert records.found is True
    assert records.subject is None
    first, second = records.possible_matches
    assert first.source == "qichacha"
    assert first.name == "中国移动通信集团有限公司"
    assert first.identifier is None
    assert "no identifier" in first.detail
    assert "（2019）京01执123号" in first.detail
    assert "published 2019-05-20" in first.detail
    assert "published 2020-06-01" in second.detail  # 2020年06月01日
    assert "部分未履行" in second.detail


def test_identifier_bearing_items_match_exactly_on_code_or_organisation_code() -> None:
    records, _ = lookup(USCC, load("with_identifiers.json"))
    assert [r.record_id for r in records.records] == [
        "QCC-7f3a0c4b2e9d8a1b6c5d4e3f2a1b0c9d",
        "QCC-a1",
        "QCC-a2",
    ]
    first, hyphen, plain = records.records
    assert first.list_kind == "blacklist"
    assert first.domain == "court_enforcement"
    assert first.list_name == "失信被执行人名单"
    assert first.authority.name == "北京市第一中级人民法院"
    assert first.basis == "（2019）京01执123号"
    assert first.listed_on == date(2019, 5, 20)
    assert first.expires_on is None
    assert first.status == "listed"
    assert first.role == "self"
    assert first.public is True
    assert first.region == ""
    assert (first.model_extra or {})["performance"] == "全部未履行"
    assert (first.model_extra or {})["gist_id"] == "（2018）京01民初456号"
    assert hyphen.listed_on == date(2016, 5, 20)
    assert plain.listed_on == date(2015, 1, 5)  # no Publicdate: the filing date
    assert (plain.model_extra or {})["listed_on_from"] == "Liandate"
    assert records.subject is not None and records.subject.name == "中国移动通信集团有限公司"
    # the other company's code is dropped, the masked one is a possible match
    (hit,) = records.possible_matches
    assert hit.identifier == "9111000071092****X"
    assert "masked" in hit.detail


def test_identifier_fields_are_configurable() -> None:
    records, _ = lookup(USCC, load("with_identifiers.json"), identifier_fields=())
    assert records.records == ()
    assert len(records.possible_matches) == 5


def test_verify_result_without_details_is_a_possible_match() -> None:
    records, _ = lookup(USCC, load("verify_only.json"))
    assert records.records == ()
    (hit,) = records.possible_matches
    assert "VerifyResult" in hit.detail


def test_missing_company_name_leaves_the_name_empty() -> None:
    records, _ = lookup(USCC, load("no_company.json"))
    assert records.possible_matches[0].name == ""


def test_person_codes_are_not_sent_by_default() -> None:
    result, sent = drive(source().exchange([PERSON]), always(500))
    assert sent == []
    assert result[PERSON].found is False
    assert result[PERSON].records == ()


def test_person_codes_are_sent_when_configured() -> None:
    records, sent = lookup(PERSON, load("listings.json"), search_persons=True)
    assert sent[0].url.params["searchKey"] == PERSON
    assert records.records == ()
    assert len(records.possible_matches) == 2


# --- pagination ----------------------------------------------------------------------


def test_follows_pages_until_the_total_is_read() -> None:
    records, sent = lookup(
        USCC, load("page1.json"), load("page2.json"), load("page3.json"), page_size=2
    )
    # Each search key (the USCC, then the organisation code) is paged on its own.
    assert [(r.url.params["searchKey"], r.url.params["pageIndex"]) for r in sent] == [
        (USCC, "1"),
        (USCC, "2"),
        (USCC, "3"),
        (ORG_CODE, "1"),
        (ORG_CODE, "2"),
        (ORG_CODE, "3"),
    ]
    assert len(records.possible_matches) == 5


def test_page_cap_without_an_exact_match_refuses() -> None:
    with pytest.raises(SourceRefused, match="max_pages"):
        lookup(USCC, load("page1.json"), load("page2.json"), page_size=2, max_pages=2)


def test_page_cap_after_an_exact_match_returns_what_was_read() -> None:
    first = load("with_identifiers.json")
    first["Paging"]["TotalRecords"] = 40
    records, sent = lookup(USCC, first, load("page2.json"), max_pages=2)
    assert [r.url.params["pageIndex"] for r in sent] == ["1", "2", "1", "2"]
    assert len(records.records) == 3


# --- errors --------------------------------------------------------------------------

ERRORS = load("errors.json")


def test_no_result_is_clean() -> None:
    records, _ = lookup(USCC, ERRORS["201"])
    assert records.found is True
    assert records.records == ()
    assert records.possible_matches == ()


def test_every_documented_status_has_a_fixture() -> None:
    assert set(ERRORS) >= set(STATUS_CODES) - {"200"}


TEMPORARY = {"110", "120", "122", "199", "203", "205"}


@pytest.mark.parametrize("status", sorted(set(ERRORS) - {"201"}))
def test_every_status_maps_to_retry_or_degrade(status: str) -> None:
    expected = SourceUnavailable if status in TEMPORARY else SourceRefused
    with pytest.raises(expected) as caught:
        lookup(USCC, ERRORS[status])
    assert type(caught.value) is expected
    assert caught.value.code == status
    assert caught.value.source == "qichacha"
    assert ERRORS[status]["Message"] in str(caught.value)
    assert SECRET not in str(caught.value) and APP_KEY not in str(caught.value)


def test_repeated_failure_waits_two_hours() -> None:
    with pytest.raises(SourceUnavailable) as caught:
        lookup(USCC, ERRORS["110"])
    assert caught.value.retry_after == 7200.0


@pytest.mark.parametrize("key_problem", ["101", "102", "103", "107", "112", "115"])
def test_key_and_balance_problems_are_refused(key_problem: str) -> None:
    with pytest.raises(SourceRefused):
        lookup(USCC, ERRORS[key_problem])


def test_numeric_status_is_understood() -> None:
    body = load("listings.json")
    body["Status"] = 200
    records, _ = lookup(USCC, body)
    assert len(records.possible_matches) == 2


def test_non_json_body_is_unavailable_with_a_scrubbed_excerpt() -> None:
    html = f"<html>502 Bad Gateway key={APP_KEY}</html>"
    with pytest.raises(SourceUnavailable) as caught:
        drive(source().exchange([USCC]), always(200, text=html))
    assert caught.value.status == 200
    assert caught.value.excerpt is not None and "Bad Gateway" in caught.value.excerpt
    assert APP_KEY not in str(caught.value)


def test_json_without_the_envelope_is_unavailable() -> None:
    with pytest.raises(SourceUnavailable, match="envelope"):
        drive(source().exchange([USCC]), always(200, json={"error": "nope"}))


def test_data_of_the_wrong_shape_is_unavailable() -> None:
    body = load("listings.json")
    body["Result"]["Data"] = {"not": "a list"}
    with pytest.raises(SourceUnavailable, match="Data"):
        lookup(USCC, body)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_http_5xx_is_unavailable(status: int) -> None:
    with pytest.raises(SourceUnavailable) as caught:
        drive(source().exchange([USCC]), always(status, text="upstream error"))
    assert caught.value.status == status


def test_http_429_is_unavailable_with_retry_after() -> None:
    with pytest.raises(SourceUnavailable) as caught:
        drive(source().exchange([USCC]), always(429, headers={"Retry-After": "3"}))
    assert caught.value.retry_after == 3.0


@pytest.mark.parametrize("status", [400, 401, 403])
def test_other_http_errors_are_refused(status: int) -> None:
    with pytest.raises(SourceRefused):
        drive(source().exchange([USCC]), always(status, text="denied"))


# --- configuration -------------------------------------------------------------------


def test_repr_never_shows_keys() -> None:
    text = repr(source())
    assert SECRET not in text and APP_KEY not in text
    assert "qichacha" in text


def test_factory_reads_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCC_SECRET_FOR_TEST", SECRET)
    monkeypatch.setenv("QCC_KEY_FOR_TEST", APP_KEY)
    src = create_source(
        name="qcc", app_key_env="QCC_KEY_FOR_TEST", secret_key_env="QCC_SECRET_FOR_TEST"
    )
    request = src.request(USCC, 1)
    assert request.url.params["key"] == APP_KEY
    assert request.headers["Token"] == token(APP_KEY, request.headers["Timespan"], SECRET)


def test_factory_without_keys_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QCC_SECRET_MISSING", raising=False)
    with pytest.raises(ConfigError, match="QCC_SECRET_MISSING"):
        create_source(name="qcc", app_key=APP_KEY, secret_key_env="QCC_SECRET_MISSING")
    with pytest.raises(ConfigError, match="secret"):
        create_source(name="qcc", app_key=APP_KEY)
    with pytest.raises(ConfigError, match="app_key"):
        create_source(name="qcc", secret_key=SECRET)


def test_factory_rejects_unknown_options_and_bad_paging() -> None:
    with pytest.raises(TypeError):
        create_source(name="qcc", app_key=APP_KEY, secret_key=SECRET, secret="x")  # type: ignore[call-arg]
    with pytest.raises(ConfigError):
        create_source(name="qcc", app_key=APP_KEY, secret_key=SECRET, page_size=0)
