"""Spec §3: every error status becomes the right creditguard error."""

from __future__ import annotations

import httpx
import pytest
from creditguard_platform.errors import error_from_response, mask_text
from platform_helpers import error

from creditguard.errors import SourceRefused, SourceUnavailable
from creditguard.remote.retry import MAX_RETRY_AFTER_S


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "INVALID_ARGUMENT", SourceRefused),
        (401, "UNAUTHENTICATED", SourceRefused),
        (403, "PERMISSION_DENIED", SourceRefused),
        (404, "NOT_FOUND", SourceRefused),
        (409, "IDEMPOTENCY_CONFLICT", SourceRefused),
        (413, "PAYLOAD_TOO_LARGE", SourceRefused),
        (429, "RATE_LIMITED", SourceUnavailable),
        (500, "INTERNAL", SourceUnavailable),
        (502, "UNAVAILABLE", SourceUnavailable),
        (503, "UNAVAILABLE", SourceUnavailable),
        (504, "UNAVAILABLE", SourceUnavailable),
    ],
)
def test_status_table(status: int, code: str, kind: type[Exception]) -> None:
    exc = error_from_response(error(status, code, "服务繁忙"), source="p")
    assert type(exc) is kind
    assert (exc.status, exc.code, exc.source) == (status, code, "p")
    assert "服务繁忙" in str(exc) and "r-1" in str(exc)
    assert exc.excerpt is None


def test_429_carries_retry_after_seconds() -> None:
    exc = error_from_response(error(429, "RATE_LIMITED", **{"Retry-After": "7"}), source="p")
    assert exc.retry_after == 7
    assert error_from_response(error(429, "RATE_LIMITED"), source="p").retry_after is None


def test_503_honours_retry_after_when_present() -> None:
    assert (
        error_from_response(
            error(503, "UNAVAILABLE", **{"Retry-After": "2"}), source="p"
        ).retry_after
        == 2
    )


def test_retry_after_as_http_date() -> None:
    far = "Fri, 31 Dec 9999 23:59:59 GMT"  # read by the core's one parser, capped at a day
    response = httpx.Response(429, headers={"Retry-After": far})
    assert error_from_response(response, source="p").retry_after == MAX_RETRY_AFTER_S
    soon = httpx.Response(429, headers={"Retry-After": "soon"})
    assert error_from_response(soon, source="p").retry_after is None


def test_408_is_temporary_as_everywhere() -> None:
    assert isinstance(error_from_response(httpx.Response(408), source="p"), SourceUnavailable)


def test_non_json_body_reports_status_and_first_200_characters() -> None:
    html = "<html>" + "网关错误" * 100 + "</html>"
    exc = error_from_response(httpx.Response(502, html=html), source="p")
    assert isinstance(exc, SourceUnavailable)
    assert exc.status == 502 and exc.code is None
    assert exc.excerpt == html[:200]
    assert "HTTP 502" in str(exc)


def test_json_of_another_shape_is_an_excerpt_too() -> None:
    exc = error_from_response(httpx.Response(400, json={"message": "bad"}), source="p")
    assert isinstance(exc, SourceRefused) and exc.code is None and "bad" in (exc.excerpt or "")


def test_resident_id_numbers_are_masked_in_messages_and_excerpts() -> None:
    pid = "11010519491231002X"
    exc = error_from_response(
        error(400, "INVALID_ARGUMENT", f"code {pid} is not allowed"), source="p"
    )
    assert pid not in str(exc) and "110105********002X" in str(exc)
    exc = error_from_response(httpx.Response(500, text=f"oops {pid}"), source="p")
    assert pid not in str(exc) and pid not in (exc.excerpt or "")
    assert mask_text("91110000710925462X") == "91110000710925462X"


def test_empty_error_body() -> None:
    exc = error_from_response(httpx.Response(500), source="p")
    assert isinstance(exc, SourceUnavailable) and exc.excerpt is None and exc.status == 500
