"""Calls and answers of the reference platform, and how its endpoints read a call.

:class:`Call` is one signed-off request, :class:`Answer` one response,
:class:`ApiError` an error answer in the spec §3 shape. :class:`Ctx` and the
helpers below read and check a call's body and query the same way for every
endpoint (:mod:`creditguard.testing.api`, :mod:`creditguard.testing.supervision_api`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl

from creditguard.testing.state import PlatformState, check_code

__all__ = [
    "ERROR_CODES",
    "Answer",
    "ApiError",
    "Call",
    "Ctx",
    "bool_param",
    "error_answer",
    "etag_of",
    "is_date",
    "is_str",
    "json_answer",
    "new_receipt",
    "not_modified",
    "require",
    "require_time",
    "subject_view",
    "valid_code",
]

ERROR_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "IDEMPOTENCY_CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "UNAVAILABLE",
}


def is_str(v: Any) -> bool:
    """A non-empty string."""
    return isinstance(v, str) and bool(v)


def is_date(v: Any) -> bool:
    """A ``YYYY-MM-DD`` date."""
    if not isinstance(v, str):
        return False
    try:
        date.fromisoformat(v)
    except ValueError:
        return False
    return len(v) == 10


@dataclass(frozen=True)
class Call:
    """One request as the platform sees it: ``path`` is the raw path as sent, without the query."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    """One response: status, headers and the full body."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


class ApiError(Exception):
    """An error answer in the spec §3 shape; ``code`` defaults from the status."""

    def __init__(
        self, status: int, message: str, code: str = "", headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.status = status
        self.message = message
        self.code = code or ERROR_CODES.get(status, "INTERNAL")
        self.headers = headers
        super().__init__(message)


def json_answer(status: int, data: Any, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    """A JSON answer (UTF-8, Chinese kept readable)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Answer(status, body, (("Content-Type", "application/json"), *headers))


def error_answer(err: ApiError, request_id: str) -> Answer:
    """The spec §3 error body for ``err``."""
    return json_answer(
        err.status,
        {"error": {"code": err.code, "message": err.message, "request_id": request_id}},
        err.headers,
    )


@dataclass(frozen=True)
class Ctx:
    """A call routed to an endpoint: its path under the base, app key and path parameters."""

    call: Call
    api_path: str
    app_key: str
    params: tuple[str, ...]

    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.call.query, keep_blank_values=True))

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.call.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"request body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "request body must be a JSON object")
        return data


def require(body: Mapping[str, Any], *names: str) -> None:
    """Refuse (400) a body missing any of ``names`` as a non-empty string."""
    for name in names:
        if not is_str(body.get(name)):
            raise ApiError(400, f"{name} is missing or not a non-empty string")


def require_time(body: Mapping[str, Any], name: str) -> None:
    """Refuse (400) a body whose ``name`` is not an RFC 3339 time with an offset."""
    require(body, name)
    try:
        parsed = datetime.fromisoformat(str(body[name]))
    except ValueError:
        raise ApiError(400, f"{name} is not an RFC 3339 time: {body[name]!r}") from None
    if parsed.tzinfo is None:
        raise ApiError(400, f"{name} must carry a UTC offset (RFC 3339): {body[name]!r}")


def valid_code(text: Any, where: str) -> str:
    """The normalised subject code ``text``, or 400 naming ``where``."""
    if not isinstance(text, str):
        raise ApiError(400, f"{where} must be a string")
    try:
        return check_code(text)[0]
    except ValueError as exc:
        raise ApiError(400, f"{where} is not a valid subject code: {exc}") from None


def bool_param(ctx: Ctx, name: str) -> bool:
    """The query parameter ``name`` as ``true``/``false`` (default false), else 400."""
    value = ctx.query().get(name, "false")
    if value not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false, got {value!r}")
    return value == "true"


def etag_of(data: Any) -> str:
    """The weak ETag of a JSON-ready value."""
    digest = hashlib.sha256(
        json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    return f'W/"{digest[:16]}"'


def not_modified(ctx: Ctx, etag: str) -> bool:
    """True when the call's ``If-None-Match`` names ``etag``."""
    sent = ctx.call.headers.get("if-none-match")
    if not sent:
        return False
    tags = [t.strip() for t in sent.split(",")]
    return "*" in tags or etag in tags


def new_receipt(state: PlatformState) -> dict[str, str]:
    """A fresh receipt: ``receipt_id`` and ``received_at``."""
    return {"receipt_id": state.next_id("RC"), "received_at": state.now_text()}


def subject_view(subject: Mapping[str, Any]) -> dict[str, Any]:
    """A subject as the records endpoints show it: ``code`` and ``kind`` first."""
    view = {"code": subject["code"], "kind": subject["kind"]}
    view.update({k: v for k, v in subject.items() if k not in view})
    return view
