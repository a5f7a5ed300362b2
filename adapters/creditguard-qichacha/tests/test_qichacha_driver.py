"""The Qichacha source through the guard's real sync driver (MockTransport)."""

from __future__ import annotations

import httpx
import pytest
from creditguard_qichacha import QichachaSource
from qcc_support import load

from creditguard.errors import SourceRefused
from creditguard.remote.driver import SyncDriver
from creditguard.remote.policy import RemoteSettings

USCC = "91110000710925462X"
PERSON = "320102198005141232"


def driver(answers: list[dict[str, object]], calls: list[httpx.Request]) -> SyncDriver:
    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=answers[min(len(calls), len(answers)) - 1])

    settings = RemoteSettings(deadline_s=5.0, backoff_initial=0.0, jitter=0.0)
    return SyncDriver(settings, httpx.MockTransport(handle), sleep=lambda seconds: None)


def source() -> QichachaSource:
    return QichachaSource(app_key="k", secret_key="s")


def test_traffic_problem_is_retried_by_the_driver_then_listings_arrive() -> None:
    calls: list[httpx.Request] = []
    answers = [load("errors.json")["120"], load("with_identifiers.json")]
    with driver(answers, calls) as d:
        result = d.fetch(source(), [USCC])
    assert len(calls) == 2
    assert len(result[USCC].records) == 3


def test_quota_problem_is_not_retried() -> None:
    calls: list[httpx.Request] = []
    with driver([load("errors.json")["112"]], calls) as d, pytest.raises(SourceRefused):
        d.fetch(source(), [USCC])
    assert len(calls) == 1


def test_person_skipped_without_a_request_through_the_driver() -> None:
    calls: list[httpx.Request] = []
    with driver([load("errors.json")["112"]], calls) as d:
        result = d.fetch(source(), [PERSON])
    assert calls == []
    assert result[PERSON].found is False
