"""PlatformSource passes the testing kit's HttpSource contract."""

from __future__ import annotations

import json

import httpx
from creditguard_platform import PlatformSource
from platform_helpers import APP_KEY, BASE_URL, SECRET, error, record

from creditguard.sources import HttpSource
from creditguard.testing.contract import HttpSourceContract


class TestPlatformContract(HttpSourceContract):
    secret_values = (SECRET,)

    def make_source(self) -> HttpSource:
        return PlatformSource("jiangsu", BASE_URL, APP_KEY, SECRET)

    def answer_clean(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return error(404, "SUBJECT_NOT_FOUND", "no such subject")
        codes = json.loads(request.content)["codes"]
        return httpx.Response(200, json={"results": [], "not_found": codes, "as_of": "x"})

    def answer_listed(self, request: httpx.Request, code: str) -> httpx.Response:
        assert request.method == "GET" and code in request.url.path
        return httpx.Response(200, json={"code": code, "subject": None, "records": [record()]})


class TestPlatformSmallBatchContract(TestPlatformContract):
    """The same with a configured ``max_batch`` of 2 (batches and a single GET mixed)."""

    def make_source(self) -> HttpSource:
        return PlatformSource("jiangsu", BASE_URL, APP_KEY, SECRET, max_batch=2)
