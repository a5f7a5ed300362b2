"""One shape for every error answer: ``{"error": {"code", "message", "request_id"}}`` (spec §3).

Handlers turn the library's typed errors into statuses: bad input is a 4xx
naming what is wrong, never a 5xx; records that cannot be obtained under the
``raise`` policy are 503, never an allow. Messages pass through
:func:`creditguard.masking.mask_text`, so no resident ID number leaves whole.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from creditguard.errors import (
    ConfigError,
    CreditGuardError,
    InputError,
    RecordsUnavailable,
    StorageError,
)
from creditguard.masking import mask_text

__all__ = ["ApiError", "error_response", "library_error", "request_id"]

log = logging.getLogger("creditguard.server")


class ApiError(Exception):
    """An answer other than 2xx, with its status, code and message."""

    def __init__(self, status: int, code: str, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        #: the lifecycle rule that refused the request (``RULE_BROKEN`` answers)
        self.rule = rule


def library_error(exc: CreditGuardError) -> ApiError | None:
    """The answer every route gives for a library error it does not handle itself; None for others.

    Bad input is 400, records or storage out of reach 503, and a configuration
    that cannot decide the request (a region without a measure list in force,
    a calendar not covering the day) 422.
    """
    if isinstance(exc, InputError):
        return ApiError(400, "INVALID_ARGUMENT", str(exc))
    if isinstance(exc, RecordsUnavailable):
        return ApiError(503, "RECORDS_UNAVAILABLE", str(exc))
    if isinstance(exc, StorageError):
        return ApiError(503, "UNAVAILABLE", str(exc))
    if isinstance(exc, ConfigError):
        return ApiError(422, "FAILED_PRECONDITION", str(exc))
    return None


def request_id(scope: Any) -> str:
    """The id of the request (set by the gate; made here if the gate never saw it)."""
    state = scope.setdefault("state", {})
    rid = state.get("request_id")
    if rid is None:
        rid = state["request_id"] = "r-" + uuid.uuid4().hex[:16]
    return str(rid)


def error_response(
    request: Request | Any,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    rule: str | None = None,
) -> JSONResponse:
    """The JSON error answer (``request`` is a Request or an ASGI scope)."""
    scope = request.scope if isinstance(request, Request) else request
    rid = request_id(scope)
    error: dict[str, str] = {"code": code, "message": mask_text(message)[:2000], "request_id": rid}
    if rule is not None:
        error["rule"] = rule
    body = {"error": error}
    out = dict(headers or {})
    out["X-Request-Id"] = rid
    return JSONResponse(body, status_code=status, headers=out)
