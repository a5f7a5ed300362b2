"""The one retry toolbox: Retry-After, status classes, backoff (creditguard.remote.retry)."""

from __future__ import annotations

import random

import httpx
import pytest

from creditguard.agency_http import raise_for_status
from creditguard.errors import SourceRefused, SourceUnavailable
from creditguard.remote import Backoff, RemoteSettings, classify_status, parse_retry_after
from creditguard.remote.retry import MAX_RETRY_AFTER_S

# --- Retry-After ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("3", 3.0),
        (" 120 ", 120.0),
        ("Thu, 01 Jan 1970 00:01:00 GMT", 60.0),  # an HTTP-date, measured from now=0
        ("Wed, 31 Dec 1969 23:59:00 GMT", 0.0),  # a date in the past: no wait
        ("99999999", MAX_RETRY_AFTER_S),  # absurdly long: capped
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER_S),
    ],
)
def test_retry_after_reads_seconds_and_dates(value: str, seconds: float) -> None:
    assert parse_retry_after(value, 0.0) == seconds


@pytest.mark.parametrize(
    "value",
    [None, "", "soon", "-5", "1.5", "²", "٣", "9" * 400, "1e3", "Thu, 99 Foo 1970", "inf", "nan"],
)
def test_bad_retry_after_values_are_ignored(value: str | None) -> None:
    assert parse_retry_after(value, 0.0) is None


def test_retry_after_date_defaults_to_the_current_time() -> None:
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:01 GMT") == 0.0


# --- status classes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "success"),
        (204, "success"),
        (304, "permanent"),
        (400, "permanent"),
        (401, "auth"),
        (403, "permanent"),
        (404, "permanent"),
        (407, "auth"),
        (408, "retryable"),
        (409, "permanent"),
        (413, "permanent"),
        (425, "retryable"),
        (429, "retryable"),
        (500, "retryable"),
        (503, "retryable"),
        (599, "retryable"),
    ],
)
def test_status_classes(status: int, kind: str) -> None:
    assert classify_status(status) == kind


def test_agency_adapters_read_408_as_temporary_like_everyone_else() -> None:
    # Before the toolbox, agency adapters refused a 408 while the platform retried it.
    with pytest.raises(SourceUnavailable) as info:
        raise_for_status(httpx.Response(408, headers={"Retry-After": "2"}), source="a")
    assert info.value.retry_after == 2.0
    with pytest.raises(SourceRefused, match="credentials"):
        raise_for_status(httpx.Response(401), source="a")


def test_agency_retry_after_as_an_http_date_is_honoured() -> None:
    headers = {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}
    with pytest.raises(SourceUnavailable) as info:
        raise_for_status(httpx.Response(503, headers=headers), source="a")
    assert info.value.retry_after == MAX_RETRY_AFTER_S


# --- backoff --------------------------------------------------------------------------


def test_backoff_defaults_wait_between_half_and_the_whole_delay() -> None:
    b = Backoff(base_s=1, factor=2, max_s=10)
    rng = random.Random(7)
    for attempt, d in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (60, 10), (5000, 10)]:
        waits = [b.delay(attempt, rng) for _ in range(30)]
        assert all(d / 2 <= w <= d for w in waits), (attempt, min(waits), max(waits))


def test_driver_backoff_adds_bounded_jitter_seconds() -> None:
    backoff = RemoteSettings(backoff_initial=0.1, backoff_max=1.0, jitter=0.05).backoff
    for attempt, base in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        waits = [backoff.delay(attempt) for _ in range(50)]
        assert all(base <= w <= base + 0.05 for w in waits), (attempt, min(waits), max(waits))
    assert len({backoff.delay(1) for _ in range(20)}) > 1  # jittered


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    b = Backoff()
    assert [b.delay(n, random.Random(1)) for n in (1, 2, 3)] == [
        b.delay(n, random.Random(1)) for n in (1, 2, 3)
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_s": -1},
        {"max_s": float("nan")},
        {"factor": 0.5},
        {"jitter_ratio": 2},
        {"jitter_s": -1},
    ],
)
def test_backoff_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Backoff"):
        Backoff(**kwargs)
