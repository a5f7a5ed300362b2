"""PlatformClient: measure lists, push feed, case POSTs — built, signed, parsed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from creditguard_platform import PlatformClient
from platform_helpers import APP_KEY, BASE_URL, SECRET, error, spec_check

from creditguard.errors import MeasureListError, SourceRefused, SourceUnavailable

client = PlatformClient(BASE_URL, APP_KEY, SECRET, name="js")


def verified(request: httpx.Request) -> httpx.Request:
    path, _, query = request.url.raw_path.decode().partition("?")
    assert spec_check(request.headers, request.method, path, query, request.content) == APP_KEY
    return request


def measure(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": "S-01",
        "title": "限制参加政府采购活动",
        "category": "rights_limiting",
        "legal_basis": [
            "《中华人民共和国政府采购法》第二十二条",
            {
                "title": "《中华人民共和国政府采购法》",
                "article": "第七十七条",
                "level": "law",
                "x": 1,
            },
        ],
        "source": "statute",
        "applies_to": {
            "list_kinds": ["blacklist"],
            "domains": ["procurement"],  # what Art 77 carries (rule 11f)
            "steps": ["procurement.*"],
            "new": 1,
        },
        "effect": "deny",
        "extends_to": [],
        "effective_from": "2021-12-01",
        "effective_to": None,
    }
    data.update(extra)
    return data


def measure_list(*measures: dict[str, Any]) -> dict[str, Any]:
    return {
        "region": "320000",
        "version": "2026.2",
        "effective_from": "2026-03-01",
        "issued_by": "江苏省社会信用体系建设领导小组办公室",
        "future_field": True,
        "measures": list(measures),
    }


def test_measure_list_request_is_signed_and_conditional() -> None:
    request = verified(client.build_measure_list("320000", etag='W/"7f3a"'))
    assert request.url.path == "/api/gw/v1/measure-lists/320000"
    assert request.headers["if-none-match"] == 'W/"7f3a"'
    assert "if-none-match" not in client.build_measure_list("320000").headers


def test_measure_list_is_parsed_leniently() -> None:
    response = httpx.Response(
        200, json=measure_list(measure(novel="ignored")), headers={"ETag": 'W/"1"'}
    )
    answer = client.parse_measure_list(response)
    assert answer.measure_list is not None and answer.etag == 'W/"1"' and not answer.not_modified
    m = answer.measure_list.measures[0]
    assert (
        m.effect == "deny" and [b.title for b in m.legal_basis][1] == "《中华人民共和国政府采购法》"
    )
    assert m.applies_to.steps == ("procurement.*",)


def test_unknown_effect_fails_naming_the_measure() -> None:
    response = httpx.Response(
        200, json=measure_list(measure(), measure(code="S-09", effect="banish"))
    )
    with pytest.raises(MeasureListError) as info:
        client.parse_measure_list(response)
    problems = info.value.problems
    assert [(p.measure, p.field) for p in problems] == [("S-09", "effect")]
    assert "S-09" in str(info.value)


def test_measure_list_304() -> None:
    answer = client.parse_measure_list(httpx.Response(304, headers={"ETag": 'W/"1"'}))
    assert answer.not_modified and answer.measure_list is None


def test_measure_list_errors() -> None:
    with pytest.raises(SourceRefused):
        client.parse_measure_list(error(404, "NOT_FOUND"))
    with pytest.raises(SourceUnavailable):
        client.parse_measure_list(httpx.Response(200, text="<html>"))


def test_push_feed_request() -> None:
    request = verified(client.build_pushes("c-000985", limit=500))
    assert request.url.path == "/api/gw/v1/pushes"
    assert dict(request.url.params) == {"cursor": "c-000985", "limit": "500"}
    assert "cursor" not in verified(client.build_pushes()).url.params
    with pytest.raises(ValueError):
        client.build_pushes(limit=1001)


def test_cursor_with_reserved_characters_is_signed_as_sent() -> None:
    verified(client.build_pushes("c/=&+ 1"))


def test_push_feed_parse_keeps_unknown_event_types() -> None:
    events = [
        {
            "event_id": "E-1",
            "type": "record.removed",
            "at": "x",
            "subject_code": "S",
            "record_id": "R",
        },
        {"event_id": "E-2", "type": "brand.new", "at": "x"},
    ]
    page = client.parse_pushes(httpx.Response(200, json={"events": events, "next_cursor": "c-2"}))
    assert [e.type for e in page.events] == [
        "record.removed",
        "brand.new",
    ] and page.next_cursor == "c-2"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"next_cursor": "c"}, "events: expected a list"),
        ({"events": [{"type": "x"}]}, r"events\[0\].event_id"),
        ({"events": [], "next_cursor": 5}, "next_cursor"),
    ],
)
def test_push_feed_malformed(body: dict[str, Any], words: str) -> None:
    with pytest.raises(SourceUnavailable, match=words):
        client.parse_pushes(httpx.Response(200, json=body))


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda b, k: client.build_case(b, idempotency_key=k), "/api/gw/v1/cases"),
        (
            lambda b, k: client.build_case_response("320100-CG-1", b, idempotency_key=k),
            "/api/gw/v1/cases/320100-CG-1/responses",
        ),
        (
            lambda b, k: client.build_case_feedback("P-9", b, idempotency_key=k),
            "/api/gw/v1/cases/P-9/feedback",
        ),
        (
            lambda b, k: client.build_supervision_event(b, idempotency_key=k),
            "/api/gw/v1/supervision-events",
        ),
        (lambda b, k: client.build_disclosure(b, idempotency_key=k), "/api/gw/v1/disclosures"),
    ],
)
def test_posts_are_signed_with_an_idempotency_key(build: Any, path: str) -> None:
    body = {"unit_code": "320100-CG", "detail": "投标资格审查未通过"}
    request = verified(build(body, "key-1"))
    assert request.method == "POST" and request.url.path == path
    assert request.headers["idempotency-key"] == "key-1"
    assert json.loads(request.content) == body
    assert "投标".encode() in request.content  # UTF-8, not \\u escapes


def test_idempotency_key_length() -> None:
    with pytest.raises(ValueError):
        client.build_case({}, idempotency_key="")
    with pytest.raises(ValueError):
        client.build_case({}, idempotency_key="k" * 129)


def test_request_bodies_over_1_mib_are_refused_before_sending() -> None:
    with pytest.raises(SourceRefused, match="exceeds"):
        client.build_disclosure({"content": "x" * (1024 * 1024)}, idempotency_key="k")


def test_receipts_and_case_errors() -> None:
    assert client.parse_receipt(httpx.Response(201, json={"receipt_id": "R-1"})) == {
        "receipt_id": "R-1"
    }
    with pytest.raises(SourceRefused) as info:
        client.parse_receipt(error(404, "CASE_NOT_FOUND"))
    assert info.value.code == "CASE_NOT_FOUND"
    with pytest.raises(SourceRefused) as info:
        client.parse_receipt(error(409, "IDEMPOTENCY_CONFLICT"))
    assert info.value.status == 409
    with pytest.raises(SourceUnavailable):
        client.parse_receipt(error(503, "UNAVAILABLE"))


def test_dates_in_bodies_are_iso_text() -> None:
    from datetime import date

    request = client.build_case({"initiated_at": date(2026, 3, 2)}, idempotency_key="k")
    assert json.loads(request.content) == {"initiated_at": "2026-03-02"}


def test_repr_hides_the_secret() -> None:
    assert SECRET not in repr(client)
