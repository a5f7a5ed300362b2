"""The Tianyancha source through the guard's real sync driver (MockTransport)."""

from __future__ import annotations

import httpx
import pytest
from creditguard_tianyancha import TianyanchaSource
from tyc_support import load

from creditguard.errors import SourceRefused
from creditguard.remote.driver import SyncDriver
from creditguard.testing.exchange import answer_in_turn, instant_driver

USCC = "91110000710925462X"


def driver(answers: list[dict[str, object]], calls: list[httpx.Request]) -> SyncDriver:
    return instant_driver(answer_in_turn(*answers, sent=calls))


def test_too_frequent_is_retried_by_the_driver_then_records_arrive() -> None:
    calls: list[httpx.Request] = []
    answers = [load("errors.json")["300004"], load("exact_uscc.json")]
    with driver(answers, calls) as d:
        result = d.fetch(TianyanchaSource(token="t"), [USCC])
    # 300004, then the USCC search again, then the organisation-code search
    assert len(calls) == 3
    assert [r.basis for r in result[USCC].records] == ["（2019）京01执123号"]


def test_balance_problem_is_not_retried() -> None:
    calls: list[httpx.Request] = []
    with driver([load("errors.json")["300006"]], calls) as d, pytest.raises(SourceRefused):
        d.fetch(TianyanchaSource(token="t"), [USCC])
    assert len(calls) == 1
