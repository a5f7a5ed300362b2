"""QichachaSource passes the testing kit's HttpSource contract, with and without person lookups."""

from __future__ import annotations

import httpx
from creditguard_qichacha import QichachaSource
from qcc_support import load

from creditguard.sources import HttpSource
from creditguard.testing.contract import HttpSourceContract

APP_KEY = "qcc-app-key-0001"
SECRET_KEY = "qcc-secret-key-0123456789"


class TestQichachaContract(HttpSourceContract):
    secret_values = (APP_KEY, SECRET_KEY)
    # Person codes are answered found=False without a request unless search_persons is set.
    looks_up_persons = False

    def make_source(self) -> HttpSource:
        return QichachaSource(
            app_key=APP_KEY, secret_key=SECRET_KEY, base_url="https://qcc.example.test"
        )

    def answer_clean(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"Status": "201", "Message": "查询无结果"})

    def answer_listed(self, request: httpx.Request, code: str) -> httpx.Response:
        search_key = request.url.params["searchKey"]
        if search_key == f"{code[8:16]}-{code[16]}":  # the organisation-code search: nothing more
            return self.answer_clean(request)
        assert search_key == code
        body = load("with_identifiers.json")
        for item in body["Result"]["Data"]:
            item["CreditCode"] = code
        return httpx.Response(200, json=body)


class TestQichachaPersonsContract(TestQichachaContract):
    """With ``search_persons`` the resident ID number is sent, so it must never be shown."""

    looks_up_persons = True

    def make_source(self) -> HttpSource:
        return QichachaSource(
            app_key=APP_KEY,
            secret_key=SECRET_KEY,
            base_url="https://qcc.example.test",
            search_persons=True,
        )
