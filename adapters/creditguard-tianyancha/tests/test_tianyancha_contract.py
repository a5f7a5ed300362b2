"""TianyanchaSource passes the testing kit's HttpSource contract."""

from __future__ import annotations

import httpx
from creditguard_tianyancha import TianyanchaSource
from tyc_support import load

from creditguard.sources import HttpSource
from creditguard.testing.contract import HttpSourceContract

TOKEN = "tyc-secret-token-0123456789"


class TestTianyanchaContract(HttpSourceContract):
    secret_values = (TOKEN,)

    def make_source(self) -> HttpSource:
        return TianyanchaSource(token=TOKEN, base_url="https://tyc.example.test")

    def answer_clean(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"result": None, "reason": "无数据", "error_code": 300000})

    def answer_listed(self, request: httpx.Request, code: str) -> httpx.Response:
        keyword = request.url.params["keyword"]
        if keyword == f"{code[8:16]}-{code[16]}":  # the organisation-code search: nothing more
            return self.answer_clean(request)
        assert keyword == code
        body = load("exact_uscc.json")
        for item in body["result"]["items"]:
            item["cardnum"] = code
        return httpx.Response(200, json=body)
