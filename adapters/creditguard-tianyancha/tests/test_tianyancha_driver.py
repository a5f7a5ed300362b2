"""The Tianyancha source through the guard's real sync driver (MockTransport)."""

from __future__ import annotations

import httpx
import pytest
from creditguard_tianyancha import TianyanchaSource
from tyc_support import load

from creditguard.errors import SourceRefused
from creditguard.remote.driver import SyncDriver
from creditguard.remote.policy import RemoteSettings

USCC = "91110000710925462X"


def driver(answers: list[dict[str, object]], calls: list[httpx.Request]) -> SyncDriver:
    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=answers[min(len(calls), len(answers)) - 1])

    settings = RemoteSettings(deadline_s=5.0, backoff_initial=0.0, jitter=0.0)
    return SyncDriver(settings, httpx.MockTransport(handle), sleep=lambda seconds: None)


def test_too_frequent_is_retried_by_the_driver_then_records_arrive() -> None:
    calls: list[httpx.Request] = []
    answers = [load("errors.json")["300004"], load("exact_uscc.json")]
    with driver(answers, calls) as d:
        result = d.fetch(TianyanchaSource(token="t"), [USCC])
    assert len(calls) == 2
    assert [r.basis for r in result[USCC].records] == ["（2019）京01执123号"]


def test_balance_problem_is_not_retried() -> None:
    calls: list[httpx.Request] = []
    with driver([load("errors.json")["300006"]], calls) as d, pytest.raises(SourceRefused):
        d.fetch(TianyanchaSource(token="t"), [USCC])
    assert len(calls) == 1
