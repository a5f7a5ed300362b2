"""Issue 8 item 14: a listing made before the unified code, under the organisation code only.

Such a listing carries only the 9-character organisation code (USCC characters
9–17, written ``71092546-2``), so a search by the USCC never returns it. The
source also searches by the organisation code; through the guard the extra
request is part of the check (its deadline, its failure policy, its cache).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import pytest
from creditguard_tianyancha import TianyanchaSource
from tyc_support import drive, load

from creditguard.agency_dates import CST
from creditguard.config import config_from_dict
from creditguard.guard import Guard
from creditguard.testing.measures import procurement_refusal

USCC = "91110000710925462X"
ORG_CODE = "71092546-2"
NOW = datetime(2026, 3, 2, 9, 15, tzinfo=CST).timestamp()
NO_DATA = {"result": None, "reason": "无数据", "error_code": 300000}

LIST = procurement_refusal("110000")


def source(**options: object) -> TianyanchaSource:
    return TianyanchaSource(token="tyc-token", clock=lambda: NOW, **options)  # type: ignore[arg-type]


def only_under_org_code(sent: list[httpx.Request], org_answer: httpx.Response | None = None):  # type: ignore[no-untyped-def]
    """The agency: nothing under the USCC, the old listing under the organisation code."""

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.params["keyword"] == ORG_CODE:
            return org_answer or httpx.Response(200, json=load("orgcode_hyphen.json"))
        return httpx.Response(200, json=NO_DATA)

    return handle


def test_a_listing_only_the_organisation_code_finds_is_a_record() -> None:
    sent: list[httpx.Request] = []
    result, requests = drive(source().exchange([USCC]), only_under_org_code(sent))
    assert [r.url.params["keyword"] for r in requests] == [USCC, ORG_CODE]
    (record,) = result[USCC].records
    assert record.basis == "（2016）京0102执321号"
    assert result[USCC].subject is not None
    assert result[USCC].subject.code == USCC


def test_the_organisation_code_search_can_be_turned_off() -> None:
    sent: list[httpx.Request] = []
    result, requests = drive(
        source(search_organisation_code=False).exchange([USCC]), only_under_org_code(sent)
    )
    assert [r.url.params["keyword"] for r in requests] == [USCC]
    assert result[USCC].records == ()


def test_persons_are_searched_by_their_number_only() -> None:
    person = "320102198005141232"
    _, requests = drive(source().exchange([person]), lambda r: httpx.Response(200, json=NO_DATA))
    assert [r.url.params["keyword"] for r in requests] == [person]


def guard(tmp_path: Path, handler: object, **failure: str) -> Guard:
    cfg = config_from_dict(
        {
            "guard": {"data_dir": str(tmp_path), "deadline_ms": 800, "cache_ttl_s": 300},
            "sources": [{"name": "tianyancha", "type": "tianyancha", "token": "tyc-token"}],
            "measures": {"packs": False},
            "failure": failure or {"default": "hold"},
        }
    )
    return Guard(
        cfg,
        sources=[source()],
        measure_lists=[LIST],
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        journal=False,
        load_entrypoints=False,  # only this source: other installed plugins play no part
    )


def test_the_check_denies_on_the_old_listing_and_caches_both_searches(tmp_path: Path) -> None:
    sent: list[httpx.Request] = []
    g = guard(tmp_path, only_under_org_code(sent))
    try:
        first = g.check(USCC, step="procurement.bid", region="110000")
        assert (first.outcome, first.verified) == ("deny", True)
        assert len(sent) == 2
        again = g.check(USCC, step="procurement.bid", region="110000")
        assert again.outcome == "deny"
        assert len(sent) == 2, "the second check is answered from the cache, both searches included"
    finally:
        g.close()


@pytest.mark.parametrize("status", [503, 408])
def test_a_failed_organisation_code_search_is_never_a_clean_answer(
    tmp_path: Path, status: int
) -> None:
    sent: list[httpx.Request] = []
    g = guard(tmp_path, only_under_org_code(sent, httpx.Response(status, text="busy")))
    try:
        decision = g.check(USCC, step="procurement.bid", region="110000")
    finally:
        g.close()
    assert decision.verified is False
    assert decision.outcome == "review"  # the step's failure policy (hold), not allow
    assert {r.url.params["keyword"] for r in sent} == {USCC, ORG_CODE}
