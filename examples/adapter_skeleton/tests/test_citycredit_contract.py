"""The city credit adapter passes the testing kit's HttpSource contract."""

from __future__ import annotations

import httpx
from creditguard_citycredit import CityCreditSource

from creditguard.sources import HttpSource
from creditguard.testing.contract import HttpSourceContract

TOKEN = "city-secret-t0ken"
RECORD = {
    "record_id": "CITY-1",
    "list_kind": "blacklist",
    "domain": "procurement",
    "listed_on": "2025-01-01",
    "status": "listed",
}


class TestCityCreditContract(HttpSourceContract):
    secret_values = (TOKEN,)

    def make_source(self) -> HttpSource:
        return CityCreditSource(name="city", base_url="https://city.example/api", token=TOKEN)

    def answer_clean(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    def answer_listed(self, request: httpx.Request, code: str) -> httpx.Response:
        assert request.url.path == f"/api/credit/{code}"
        return httpx.Response(200, json={"subject": {"name": "示例"}, "items": [RECORD]})
