"""The Qichacha source through the guard's real sync driver (MockTransport)."""

from __future__ import annotations

import httpx
import pytest
from creditguard_qichacha import QichachaSource
from qcc_support import load

from creditguard.errors import SourceRefused
from creditguard.remote.driver import SyncDriver
from creditguard.testing.exchange import answer_in_turn, instant_driver

USCC = "91110000710925462X"
PERSON = "320102198005141232"


def driver(answers: list[dict[str, object]], calls: list[httpx.Request]) -> SyncDriver:
    return instant_driver(answer_in_turn(*answers, sent=calls))


def source() -> QichachaSource:
    return QichachaSource(app_key="k", secret_key="s")


def test_traffic_problem_is_retried_by_the_driver_then_listings_arrive() -> None:
    calls: list[httpx.Request] = []
    answers = [load("errors.json")["120"], load("with_identifiers.json")]
    with driver(answers, calls) as d:
        result = d.fetch(source(), [USCC])
    # 120, then the USCC search again, then the organisation-code search
    assert len(calls) == 3
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
