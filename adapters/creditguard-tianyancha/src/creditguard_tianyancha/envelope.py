"""Tianyancha's response envelope: HTTP status and ``error_code`` → a page or an exception.

Envelope (FACTS §6)::

    {"result": {"total": n, "items": [...]}, "reason": "ok", "error_code": 0}

``error_code`` → what the guard does:

- ``0`` ok: read the items;
- ``300000`` no data: a clean result, no listing;
- ``300001`` request failed, ``300004`` too frequent: ``SourceUnavailable`` (retried);
- ``300002``/``300003``/``300005``/``300006``/``300007``/``300009``/``300011``
  account, permission or balance problems: ``SourceRefused`` (degrade, no retry);
- ``300008`` missing parameter: ``SourceRefused`` (a bug; retrying cannot help);
- any other code (not in FACTS §6): ``SourceRefused`` (unknown: do not retry).

HTTP 408, 425, 429 and 5xx are ``SourceUnavailable`` (``Retry-After`` honoured); other
non-2xx statuses are ``SourceRefused``. A 2xx body that is not the JSON
envelope (a gateway's HTML page, say) is ``SourceUnavailable`` with the
status and the first 200 characters of the body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import httpx

from creditguard.agency_http import (
    EXCERPT_CHARS,
    excerpt,
    int_or_minus_one,
    json_envelope,
    scrub,
)
from creditguard.errors import SourceRefused, SourceUnavailable

__all__ = ["ERROR_CODES", "Page", "read_page"]

Kind = Literal["no_data", "unavailable", "refused"]

#: error_code → (what it means for the guard, plain description); FACTS §6.
ERROR_CODES: Final[Mapping[int, tuple[Kind, str]]] = {
    300000: ("no_data", "no data"),
    300001: ("unavailable", "request failed"),
    300002: ("refused", "account problem"),
    300003: ("refused", "account problem"),
    300004: ("unavailable", "requests too frequent"),
    300005: ("refused", "permission problem"),
    300006: ("refused", "balance problem"),
    300007: ("refused", "balance problem"),
    300008: ("refused", "missing parameter"),
    300009: ("refused", "account problem"),
    300011: ("refused", "permission problem"),
}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of results: the agency's total and this page's items."""

    total: int
    items: Sequence[Mapping[str, Any]]


def read_page(response: httpx.Response, *, source: str, secrets: Sequence[str] = ()) -> Page:
    """The page in ``response``, or raise ``SourceUnavailable`` / ``SourceRefused``.

    ``secrets`` are blanked out of any body excerpt put into an error message.
    """
    body = json_envelope(
        response, source=source, secrets=secrets, field="error_code", agency="Tianyancha"
    )
    code = int_or_minus_one(body.get("error_code"))
    if code == 0:
        return _page(body, response, source=source, secrets=secrets)
    kind, meaning = ERROR_CODES.get(code, ("refused", "undocumented error code"))
    if kind == "no_data":
        return Page(total=0, items=())
    reason = scrub(str(body.get("reason") or ""), secrets)[:EXCERPT_CHARS]
    message = (
        f"error_code {code} ({meaning}): {reason}" if reason else f"error_code {code} ({meaning})"
    )
    error = SourceUnavailable if kind == "unavailable" else SourceRefused
    raise error(message, source=source, code=str(code))


def _page(
    body: Mapping[str, Any], response: httpx.Response, *, source: str, secrets: Sequence[str]
) -> Page:
    result = body.get("result")
    if result is None:  # some answers carry error_code 0 and no result for "nothing"
        return Page(total=0, items=())
    items = result.get("items") if isinstance(result, dict) else None
    if items is None and isinstance(result, dict) and "total" in result:
        items = []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise SourceUnavailable(
            "result.items is missing or not a list of objects",
            source=source,
            status=response.status_code,
            excerpt=excerpt(response, secrets),
        )
    total = int_or_minus_one(result.get("total"))
    return Page(total=max(total, len(items)), items=items)
