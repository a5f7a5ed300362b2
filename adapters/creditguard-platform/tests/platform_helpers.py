"""A spec-following mock platform for the adapter's unit tests (httpx.MockTransport)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from creditguard.testing.auth import SeenNonces, SignatureRefused, check_signature

APP_KEY = "unit-key"
SECRET = "unit-secret-不要泄露"
BASE_URL = "https://credit.example.test/api/gw"
ORG = "91110000710925462X"
ORG2 = "9144030071526726XG"
ORG3 = "914403001922038216"


def record(record_id: str = "JS-2026-000123", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "record_id": record_id,
        "list_kind": "blacklist",
        "domain": "court_enforcement",
        "list_name": "失信被执行人名单",
        "authority": {"code": "320100-FY", "name": "南京市中级人民法院"},
        "basis": "（2025）苏01执1234号",
        "listed_on": "2025-11-03",
        "expires_on": "2028-11-02",
        "rectify_by": None,
        "status": "listed",
        "public": True,
        "region": "320100",
        "role": "self",
    }
    data.update(extra)
    return data


def spec_check(headers: Mapping[str, str], method: str, path: str, query: str, body: bytes) -> str:
    """Verify as a platform would, with the testing kit's spec §2 code, not the adapter's."""
    return check_signature(
        headers, {APP_KEY: SECRET}, method, path, query, body, nonces=SeenNonces(), now=time.time()
    )


def error(status: int, code: str, message: str = "msg", **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "request_id": "r-1"}}
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class MockPlatform:
    """Answers §4.1/§4.2 from ``subjects``; checks every signature like a real platform."""

    prefix: str = "/api/gw"
    subjects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)
    calls: list[httpx.Request] = field(default_factory=list)
    override: list[httpx.Response] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        raw = request.url.raw_path.decode()
        path, _, query = raw.partition("?")
        try:
            spec_check(request.headers, request.method, path, query, request.content)
        except SignatureRefused as exc:
            return error(401, "UNAUTHENTICATED", str(exc))
        if self.override:
            return self.override.pop(0)
        assert path.startswith(self.prefix + "/v1/")
        route = path[len(self.prefix) :]
        if (
            request.method == "GET"
            and route.startswith("/v1/subjects/")
            and route.endswith("/records")
        ):
            code = route.split("/")[3]
            if code not in self.subjects:
                return error(404, "SUBJECT_NOT_FOUND", "no such subject")
            etag = self.etags.setdefault(code, f'W/"{len(self.calls)}"')
            if request.headers.get("if-none-match") == etag:
                return httpx.Response(304)
            return httpx.Response(
                200, json={**self.answer(code), "as_of": "2026-03-02T09:15:00+08:00", "etag": etag}
            )
        if request.method == "POST" and route == "/v1/subjects:batch-records":
            body = json.loads(request.content)
            results = [self.answer(c) for c in body["codes"] if c in self.subjects]
            missing = [c for c in body["codes"] if c not in self.subjects]
            return httpx.Response(
                200, json={"results": results, "not_found": missing, "as_of": "x"}
            )
        return error(404, "NOT_FOUND", f"no route {route}")

    def answer(self, code: str) -> dict[str, Any]:
        return {
            "code": code,
            "subject": {"code": code, "kind": "organization", "name": "某公司"},
            "records": self.subjects[code],
        }

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)
