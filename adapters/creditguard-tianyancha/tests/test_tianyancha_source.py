"""The Tianyancha source against recorded-shape payloads, through httpx.MockTransport."""

from __future__ import annotations

from datetime import date, datetime

import httpx
import pytest
from creditguard_tianyancha import TianyanchaSource, create_source
from tyc_support import always, by_page, drive, load

from creditguard.agency_dates import CST
from creditguard.errors import ConfigError, SourceRefused, SourceUnavailable
from creditguard.sources import HttpSource

USCC = "91110000710925462X"
ORG_CODE = "71092546-2"  # USCC characters 9–17, as old listings write it
PERSON = "320102198005141232"
TOKEN = "tyc-secret-token-0123456789"
NOW = datetime(2026, 3, 2, 9, 15, tzinfo=CST).timestamp()


def source(**options: object) -> TianyanchaSource:
    return TianyanchaSource(token=TOKEN, clock=lambda: NOW, **options)  # type: ignore[arg-type]


def lookup(code: str, *bodies: object, **options: object):  # type: ignore[no-untyped-def]
    result, sent = drive(source(**options).exchange([code]), by_page(*bodies))
    return result[code], sent


# --- requests -----------------------------------------------------------------------


def test_is_an_http_source_with_one_keyword_per_exchange() -> None:
    src = source()
    assert isinstance(src, HttpSource)
    assert src.max_batch == 1
    assert src.base_url == "https://open.api.tianyancha.com"


def test_request_carries_token_header_and_paging_query() -> None:
    _, sent = lookup(USCC, load("exact_uscc.json"), page_size=20)
    request, by_org_code = sent
    assert by_org_code.url.params["keyword"] == ORG_CODE
    assert request.method == "GET"
    assert request.url.path == "/services/open/jr/dishonest/2.0"
    assert request.headers["Authorization"] == TOKEN
    assert dict(request.url.params) == {"keyword": USCC, "pageNum": "1", "pageSize": "20"}


def test_keyword_is_the_normalised_code() -> None:
    _, sent = lookup(" 91110000-710925462x ", load("exact_uscc.json"))
    assert sent[0].url.params["keyword"] == USCC


def test_history_endpoint_when_configured() -> None:
    records, sent = lookup(USCC, load("history.json"), history=True)
    assert sent[0].url.path == "/services/open/hi/dishonest/2.0"
    (record,) = records.records
    assert record.status == "removed"
    assert not record.has_effect(date(2026, 3, 2))


# --- matching -----------------------------------------------------------------------


def test_exact_uscc_match_becomes_a_record_with_every_field_mapped() -> None:
    records, _ = lookup(USCC, load("exact_uscc.json"))
    (record,) = records.records
    assert record.record_id == "TYC-（2019）京01执123号"
    assert record.list_kind == "blacklist"
    assert record.domain == "court_enforcement"
    assert record.list_name == "失信被执行人名单"
    assert record.authority.name == "北京市第一中级人民法院"
    assert record.basis == "（2019）京01执123号"
    # 1558281600000 ms is 2019-05-19T16:00Z: the 20th in China Standard Time
    assert record.listed_on == date(2019, 5, 20)
    assert record.expires_on is None
    assert record.status == "listed"
    assert record.public is True
    assert record.role == "self"
    assert record.region == "110000"
    extra = record.model_extra or {}
    assert extra["performance"] == "全部未履行"
    assert extra["gist_id"] == "（2018）京01民初456号"
    assert extra["filed_on"] == "2019-01-01"
    assert extra["listed_on_from"] == "publishdate"
    assert "cardnum" not in extra and "iname" not in extra
    assert record.has_effect(date(2026, 3, 2))
    assert records.found is True
    assert records.subject is not None
    assert records.subject.kind == "organization"
    assert records.subject.name == "中国移动通信集团有限公司"


def test_similar_name_with_other_full_code_is_dropped_and_name_only_is_possible() -> None:
    records, _ = lookup(USCC, load("exact_uscc.json"))
    assert [r.basis for r in records.records] == ["（2019）京01执123号"]
    (hit,) = records.possible_matches
    assert hit.source == "tianyancha"
    assert hit.name == "中国移动通信集团有限公司"
    assert hit.identifier is None
    assert "name-only" in hit.detail
    assert "（2017）苏0102执555号" in hit.detail
    assert "2017-07-14" in hit.detail


@pytest.mark.parametrize(
    ("fixture", "listed_on", "region"),
    [
        ("orgcode_hyphen.json", date(2016, 5, 20), "110000"),
        ("orgcode_plain.json", date(2015, 3, 9), "310000"),
    ],
)
def test_embedded_organisation_code_is_an_exact_match(
    fixture: str, listed_on: date, region: str
) -> None:
    records, _ = lookup(USCC, load(fixture))
    (record,) = records.records
    assert record.listed_on == listed_on
    assert record.region == region
    assert records.possible_matches == ()


def test_masked_id_number_is_only_a_possible_match() -> None:
    records, _ = lookup(PERSON, load("person_masked.json"))
    assert records.records == ()
    assert records.subject is None
    (hit,) = records.possible_matches  # the 1975 listing contradicts the visible digits
    assert hit.identifier == "3201021980****1232"
    assert hit.name == "张伟"
    assert "masked" in hit.detail


def test_full_and_legacy_15_digit_id_numbers_match_exactly() -> None:
    records, _ = lookup(PERSON, load("person_exact.json"))
    assert [r.basis for r in records.records] == ["（2021）苏0102执1001号", "（2003）玄执字第88号"]
    assert records.records[1].listed_on == date(2004, 6, 30)
    assert records.subject is not None and records.subject.kind == "person"


def test_person_listing_does_not_match_an_organisation() -> None:
    records, _ = lookup(USCC, load("person_exact.json"))
    assert records.records == ()
    assert records.possible_matches == ()


def test_name_only_listing_never_becomes_a_record() -> None:
    records, _ = lookup(USCC, load("name_only.json"))
    assert records.records == ()
    (hit,) = records.possible_matches
    assert hit.identifier is None
    assert "（2022）京0108执4321号" in hit.detail


# --- record details -------------------------------------------------------------------


def test_listing_without_a_readable_date_is_dated_by_the_fetch() -> None:
    records, _ = lookup(USCC, load("no_dates.json"))
    (record,) = records.records
    assert record.listed_on == date(2026, 3, 2)
    assert (record.model_extra or {})["listed_on_from"] == "fetched"


def test_fully_performed_listing_still_on_the_current_list_stays_listed() -> None:
    # Deletion from the list, not the performance text, ends a listing.
    records, _ = lookup(USCC, load("no_dates.json"))
    (record,) = records.records
    assert (record.model_extra or {})["performance"] == "全部履行"
    assert record.status == "listed"


def test_filing_date_is_used_when_there_is_no_publication_date() -> None:
    body = load("exact_uscc.json")
    del body["result"]["items"][0]["publishdate"]
    records, _ = lookup(USCC, body)
    assert records.records[0].listed_on == date(2019, 1, 1)
    assert (records.records[0].model_extra or {})["listed_on_from"] == "regdate"


def test_listing_without_case_number_gets_a_stable_digest_id() -> None:
    body = load("exact_uscc.json")
    body["result"]["items"][0]["casecode"] = ""
    first, _ = lookup(USCC, body)
    second, _ = lookup(USCC, body)
    record_id = first.records[0].record_id
    assert record_id.startswith("TYC-") and len(record_id) == 24
    assert second.records[0].record_id == record_id


# --- pagination ----------------------------------------------------------------------


def test_follows_pages_until_the_total_is_read() -> None:
    records, sent = lookup(
        USCC, load("page1.json"), load("page2.json"), load("page3.json"), page_size=2
    )
    # Each keyword (the USCC, then the organisation code) is paged on its own.
    assert [(r.url.params["keyword"], r.url.params["pageNum"]) for r in sent] == [
        (USCC, "1"),
        (USCC, "2"),
        (USCC, "3"),
        (ORG_CODE, "1"),
        (ORG_CODE, "2"),
        (ORG_CODE, "3"),
    ]
    (record,) = records.records
    assert record.basis == "（2023）京01执999号"
    assert record.listed_on == date(2023, 7, 3)


def test_stops_on_an_empty_page() -> None:
    empty = {"result": {"total": 5, "items": []}, "reason": "ok", "error_code": 0}
    records, sent = lookup(USCC, load("page1.json"), empty, page_size=2)
    assert [r.url.params["pageNum"] for r in sent] == ["1", "2", "1", "2"]
    assert records.records == ()


def test_page_cap_without_an_exact_match_refuses_rather_than_report_clean() -> None:
    with pytest.raises(SourceRefused, match="max_pages"):
        lookup(
            USCC,
            load("page1.json"),
            load("page2.json"),
            load("page3.json"),
            page_size=2,
            max_pages=2,
        )


def test_page_cap_after_an_exact_match_returns_what_was_read() -> None:
    first = load("exact_uscc.json")
    first["result"]["total"] = 50
    records, sent = lookup(USCC, first, load("page2.json"), page_size=3, max_pages=2)
    assert [r.url.params["pageNum"] for r in sent] == ["1", "2", "1", "2"]
    assert len(records.records) == 1


# --- errors --------------------------------------------------------------------------

ERRORS = load("errors.json")
UNAVAILABLE = {"300001", "300004"}


def test_no_data_is_a_clean_result() -> None:
    records, _ = lookup(USCC, ERRORS["300000"])
    assert records.found is True
    assert records.records == ()
    assert records.possible_matches == ()


@pytest.mark.parametrize("code", sorted(set(ERRORS) - {"300000"}))
def test_every_error_code_maps_to_retry_or_degrade(code: str) -> None:
    expected = SourceUnavailable if code in UNAVAILABLE else SourceRefused
    with pytest.raises(expected) as caught:
        lookup(USCC, ERRORS[code])
    assert type(caught.value) is expected
    assert caught.value.code == code
    assert caught.value.source == "tianyancha"
    assert ERRORS[code]["reason"] in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_error_code_as_string_is_understood() -> None:
    body = dict(ERRORS["300004"], error_code="300004")
    with pytest.raises(SourceUnavailable):
        lookup(USCC, body)


def test_error_on_a_later_page_propagates() -> None:
    with pytest.raises(SourceUnavailable):
        lookup(USCC, load("page1.json"), ERRORS["300004"], page_size=2)


def test_non_json_body_is_unavailable_with_an_excerpt() -> None:
    html = "<html><body>502 Bad Gateway " + TOKEN + "</body></html>"
    src = source()
    with pytest.raises(SourceUnavailable) as caught:
        drive(src.exchange([USCC]), always(200, text=html))
    assert caught.value.status == 200
    assert caught.value.excerpt is not None and "Bad Gateway" in caught.value.excerpt
    assert TOKEN not in str(caught.value)


def test_json_without_the_envelope_is_unavailable() -> None:
    with pytest.raises(SourceUnavailable, match="envelope"):
        drive(source().exchange([USCC]), always(200, json={"message": "hello"}))


def test_items_of_the_wrong_shape_are_unavailable() -> None:
    body = {"result": {"total": 1, "items": "oops"}, "reason": "ok", "error_code": 0}
    with pytest.raises(SourceUnavailable, match="items"):
        drive(source().exchange([USCC]), always(200, json=body))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_http_5xx_is_unavailable(status: int) -> None:
    with pytest.raises(SourceUnavailable) as caught:
        drive(source().exchange([USCC]), always(status, text="upstream error"))
    assert caught.value.status == status


def test_http_429_is_unavailable_with_retry_after() -> None:
    with pytest.raises(SourceUnavailable) as caught:
        drive(source().exchange([USCC]), always(429, headers={"Retry-After": "7"}))
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize("status", [401, 403, 404])
def test_other_http_errors_are_refused(status: int) -> None:
    with pytest.raises(SourceRefused) as caught:
        drive(source().exchange([USCC]), always(status, text="denied"))
    assert caught.value.status == status


def test_person_codes_are_masked_in_messages() -> None:
    with pytest.raises(SourceRefused) as caught:
        lookup(
            PERSON,
            load("page1.json"),
            load("page2.json"),
            load("page3.json"),
            page_size=2,
            max_pages=1,
        )
    assert PERSON not in str(caught.value)
    assert "320102********1232" in str(caught.value)


# --- configuration -------------------------------------------------------------------


def test_repr_never_shows_the_token() -> None:
    assert TOKEN not in repr(source())
    assert "tianyancha" in repr(source())


def test_factory_reads_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TYC_TOKEN_FOR_TEST", TOKEN)
    src = create_source(
        name="tyc", token_env="TYC_TOKEN_FOR_TEST", base_url="https://tyc.example/", page_size=5
    )
    assert src.name == "tyc"
    assert src.base_url == "https://tyc.example"
    assert src.request(USCC, 2).headers["Authorization"] == TOKEN
    assert src.request(USCC, 2).url.params["pageSize"] == "5"


def test_factory_without_token_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TYC_TOKEN_MISSING", raising=False)
    with pytest.raises(ConfigError, match="TYC_TOKEN_MISSING"):
        create_source(name="tyc", token_env="TYC_TOKEN_MISSING")
    with pytest.raises(ConfigError, match="token"):
        create_source(name="tyc")


def test_factory_rejects_unknown_options_and_bad_paging() -> None:
    with pytest.raises(TypeError):
        create_source(name="tyc", token=TOKEN, tokn="typo")  # type: ignore[call-arg]
    with pytest.raises(ConfigError):
        create_source(name="tyc", token=TOKEN, max_pages=0)


def test_several_codes_in_one_exchange_are_looked_up_one_by_one() -> None:
    bodies = {
        USCC: load("exact_uscc.json"),
        ORG_CODE: ERRORS["300000"],
        PERSON: load("person_exact.json"),
    }

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=bodies[request.url.params["keyword"]])

    result, sent = drive(source().exchange([USCC, PERSON]), handle)
    assert [r.url.params["keyword"] for r in sent] == [USCC, ORG_CODE, PERSON]
    assert len(result[USCC].records) == 1
    assert len(result[PERSON].records) == 2
