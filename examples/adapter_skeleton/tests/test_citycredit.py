"""How to test an adapter: the exchange alone with MockTransport, then through the guard."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from creditguard_citycredit import CityCreditSource

from creditguard import Guard
from creditguard.config import config_from_dict
from creditguard.errors import SourceUnavailable
from creditguard.models import MeasureList
from creditguard.remote.driver import SyncDriver

CODE = "91320100MA1W2K7D41"
RECORD = {
    "record_id": "CITY-1",
    "list_kind": "blacklist",
    "domain": "procurement",
    "listed_on": "2025-01-01",
    "status": "listed",
}


def city_api(request: httpx.Request) -> httpx.Response:
    assert request.headers["Authorization"] == "Bearer t0ken"
    code = request.url.path.rsplit("/", 1)[-1]
    if code == CODE:
        return httpx.Response(200, json={"subject": {"name": "示例"}, "items": [RECORD]})
    if code == "91110000710925462X":
        return httpx.Response(503, headers={"Retry-After": "0"}, text="<html>busy</html>")
    return httpx.Response(404)


def test_exchange_parses_records_and_not_found() -> None:
    source = CityCreditSource(name="city", base_url="https://city.example", token="t0ken")
    with SyncDriver(transport=httpx.MockTransport(city_api)) as driver:
        got = driver.fetch(source, [CODE, "91330100799655058B"])
    assert got[CODE].records[0].record_id == "CITY-1"
    assert got["91330100799655058B"].found is False


def test_failures_are_temporary_and_retried_by_the_driver() -> None:
    source = CityCreditSource(name="city", base_url="https://city.example", token="t0ken")
    with (
        SyncDriver(transport=httpx.MockTransport(city_api)) as driver,
        pytest.raises(SourceUnavailable),
    ):
        driver.fetch(source, ["91110000710925462X"])
    assert "t0ken" not in repr(source)


def test_the_guard_uses_it_and_holds_when_it_fails(tmp_path: Path) -> None:
    source = CityCreditSource(name="city", base_url="https://city.example", token="t0ken")
    lst = MeasureList.model_validate(
        json.loads(
            json.dumps(
                {
                    "region": "320100",
                    "version": "t",
                    "measures": [
                        {
                            "code": "T-1",
                            "title": "限制参加政府采购活动",
                            "category": "rights_limiting",
                            "legal_basis": [
                                {
                                    "title": "《中华人民共和国政府采购法》",
                                    "article": "第七十七条",
                                    "level": "law",
                                }
                            ],
                            # Art 77 bars procurement's own list (rule 11f).
                            "applies_to": {
                                "list_kinds": ["blacklist"],
                                "domains": ["procurement"],
                                "steps": ["procurement.*"],
                            },
                            "effect": "deny",
                        }
                    ],
                }
            )
        )
    )
    cfg = config_from_dict({"guard": {"data_dir": str(tmp_path)}, "measures": {"packs": False}})
    guard = Guard(
        cfg,
        sources=[source],
        measure_lists=[lst],
        load_entrypoints=False,
        transport=httpx.MockTransport(city_api),
    )
    assert guard.check(CODE, step="procurement.bid", region="320100").outcome == "deny"
    held = guard.check("91110000710925462X", step="procurement.bid", region="320100")
    assert held.outcome == "review" and not held.verified
    guard.close()
