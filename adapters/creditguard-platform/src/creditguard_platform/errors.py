"""Platform answers to creditguard errors, per spec §3.

:func:`error_from_response` is the one mapping from a non-2xx response to an
exception (statuses classed by :func:`creditguard.remote.retry.classify_status`,
``Retry-After`` read by :func:`creditguard.remote.retry.parse_retry_after`):

======================  =====================================================
status                  error
======================  =====================================================
429                     ``SourceUnavailable``, ``retry_after`` from ``Retry-After``
500, 502, 503, 504, 5xx ``SourceUnavailable`` (``retry_after`` when the header is there)
408, 425                ``SourceUnavailable``
400, 401, 403, 409, 413 ``SourceRefused`` with the platform's code and message
404                     ``SourceRefused`` (callers handle ``SUBJECT_NOT_FOUND``
                        and ``CASE_NOT_FOUND`` before raising)
other                   ``SourceRefused``
======================  =====================================================

A body that is not the ``{"error": {...}}`` shape (a gateway's HTML page) is
reported with its status and its first 200 characters as ``excerpt``. Resident
ID numbers in platform messages and excerpts are masked before they reach an
exception.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

import httpx

from creditguard.errors import SourceError, SourceRefused, SourceUnavailable
from creditguard.masking import mask_text
from creditguard.remote.retry import classify_status, parse_retry_after

__all__ = ["ErrorBody", "error_from_response", "mask_text", "parse_error_body"]

_LABELS = {
    400: "invalid argument",
    401: "unauthenticated (check the app key, the secret and this host's clock)",
    403: "permission denied",
    404: "not found",
    408: "request timeout",
    409: "idempotency conflict",
    413: "payload too large",
    429: "rate limited",
}


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """What an error body said: the spec §3 fields, or an excerpt of anything else."""

    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    excerpt: str | None = None


def parse_error_body(response: httpx.Response) -> ErrorBody:
    """The spec §3 error fields of ``response``, or its first 200 characters."""
    data: Any = None
    with contextlib.suppress(ValueError):
        data = json.loads(response.content)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        message = error.get("message")
        request_id = error.get("request_id")
        return ErrorBody(
            code=error["code"],
            message=mask_text(message) if isinstance(message, str) else None,
            request_id=request_id if isinstance(request_id, str) else None,
        )
    text = response.content.decode(response.encoding or "utf-8", errors="replace")
    return ErrorBody(excerpt=mask_text(text[:200]) if text else None)


def error_from_response(response: httpx.Response, *, source: str) -> SourceError:
    """The exception for a non-2xx ``response`` (see the module's table)."""
    status = response.status_code
    body = parse_error_body(response)
    label = _LABELS.get(status, "platform error" if status >= 500 else "unexpected answer")
    message = f"{label}: {body.message}" if body.message else label
    if body.request_id:
        message += f" [request {body.request_id}]"
    fields: dict[str, Any] = {
        "source": source,
        "status": status,
        "code": body.code,
        "excerpt": body.excerpt,
    }
    if classify_status(status) == "retryable":
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return SourceUnavailable(message, retry_after=retry_after, **fields)
    return SourceRefused(message, **fields)
