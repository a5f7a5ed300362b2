"""Qichacha's response envelope: HTTP status and ``Status`` → a page or an exception.

Envelope (FACTS §6)::

    {"Status": "200", "Message": "查询成功", "OrderNumber": "...",
     "Paging": {"PageSize": 10, "PageIndex": 1, "TotalRecords": 1},
     "Result": {"VerifyResult": 1, "Data": [{...}]}}

``Status`` codes are a string. FACTS §6 confirms only ``"200"`` (success);
the others below are taken from several independent public client libraries
that agree with each other (they cite openapi.qcc.com/services/after/status),
not from the vendor's page itself, and are marked so in the README:

- ``200`` success; ``201`` no result: a clean answer;
- temporary, ``SourceUnavailable`` (retried within the check's deadline):
  ``120`` traffic abnormal, ``122`` concurrency limit, ``203`` query error on
  their side, ``205`` still processing, ``199`` unknown system error, and
  ``110`` "same query failed repeatedly, wait 2 hours" (``retry_after`` 7200 s,
  so the driver gives up at once);
- permanent, ``SourceRefused`` (degrade without retry): key, account, quota,
  permission and IP problems (``101``–``109``, ``111``–``119``, ``121``,
  ``123``, ``124``, ``214``), parameter problems (``125``, ``126``, ``202``,
  ``207``, ``209``, ``213``, ``215``, ``223``, ``224``) and ``208`` (this
  company type is not supported);
- any other code: ``SourceRefused`` (unknown: do not retry).

HTTP 408, 425, 429 and 5xx are ``SourceUnavailable`` (``Retry-After`` honoured); other
non-2xx statuses are ``SourceRefused``. A 2xx body that is not the JSON
envelope is ``SourceUnavailable`` with the status and the first 200
characters of the body.
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

__all__ = ["STATUS_CODES", "Page", "read_page"]

Kind = Literal["ok", "no_data", "unavailable", "refused"]

_REFUSED: Final[dict[str, str]] = {
    "101": "key invalid or not yet active",
    "102": "key in arrears",
    "103": "key suspended",
    "104": "key abnormal",  # an older list reads "under maintenance"; both degrade
    "105": "API withdrawn",
    "106": "too many illegal requests",
    "107": "IP forbidden or signature wrong",
    "108": "too many abnormal requests",
    "109": "daily system limit exceeded",
    "111": "API permission not granted",
    "112": "remaining quota used up or expired",
    "113": "API deleted",
    "114": "API disabled",
    "115": "authentication failed or expired",
    "116": "daily call total exceeded",
    "117": "too many calls with unsupported parameters",
    "118": "call method not supported",
    "119": "account abnormal",
    "121": "data may not leave the country",
    "123": "unverified-account quota reached",
    "124": "system under maintenance, orders closed",
    "125": "query parameter wrong",
    "126": "query parameter type or structure wrong",
    "202": "query parameter wrong",
    "207": "too many items requested",
    "208": "company type not supported by this API",
    "209": "too many companies",
    "213": "parameter shorter than 2 characters",
    "214": "API not purchased",
    "215": "search key not supported",
    "223": "search key too vague",
    "224": "search key invalid",
}
_UNAVAILABLE: Final[dict[str, str]] = {
    "110": "same query failed repeatedly; retry after 2 hours",
    "120": "system traffic abnormal",
    "122": "concurrency limit exceeded",
    "199": "unknown system error",
    "203": "system query error",
    "205": "still processing",
}

#: Status → (what it means for the guard, plain description).
STATUS_CODES: Final[Mapping[str, tuple[Kind, str]]] = {
    "200": ("ok", "success"),
    "201": ("no_data", "no result"),
    **{code: ("unavailable", text) for code, text in _UNAVAILABLE.items()},
    **{code: ("refused", text) for code, text in _REFUSED.items()},
}

_RETRY_AFTER: Final[dict[str, float]] = {"110": 7200.0}


@dataclass(frozen=True, slots=True)
class Page:
    """One page: the total, this page's items, ``VerifyResult`` and the company named, if any."""

    total: int
    items: Sequence[Mapping[str, Any]]
    verified: bool | None = None
    company: str = ""


def read_page(response: httpx.Response, *, source: str, secrets: Sequence[str] = ()) -> Page:
    """The page in ``response``, or raise ``SourceUnavailable`` / ``SourceRefused``.

    ``secrets`` are blanked out of anything quoted from the body.
    """
    body = json_envelope(
        response, source=source, secrets=secrets, field="Status", agency="Qichacha"
    )
    code = str(body.get("Status")).strip()
    kind, meaning = STATUS_CODES.get(code, ("refused", "undocumented status"))
    if kind == "ok":
        return _page(body, response, source=source, secrets=secrets)
    if kind == "no_data":
        return Page(total=0, items=(), verified=False)
    said = scrub(str(body.get("Message") or ""), secrets)[:EXCERPT_CHARS]
    message = f"Status {code} ({meaning})" + (f": {said}" if said else "")
    if kind == "unavailable":
        raise SourceUnavailable(
            message, source=source, code=code, retry_after=_RETRY_AFTER.get(code)
        )
    raise SourceRefused(message, source=source, code=code)


def _page(
    body: Mapping[str, Any], response: httpx.Response, *, source: str, secrets: Sequence[str]
) -> Page:
    result = body.get("Result")
    if result is None:
        return Page(total=0, items=())
    data = result.get("Data", []) if isinstance(result, dict) else None
    if data is None:
        data = []
    if not isinstance(result, dict) or not isinstance(data, list):
        raise SourceUnavailable(
            "Result.Data is not a list",
            source=source,
            status=response.status_code,
            excerpt=excerpt(response, secrets),
        )
    if not all(isinstance(item, dict) for item in data):
        raise SourceUnavailable(
            "Result.Data holds something other than objects",
            source=source,
            status=response.status_code,
            excerpt=excerpt(response, secrets),
        )
    paging = body.get("Paging")
    total = int_or_minus_one(paging.get("TotalRecords")) if isinstance(paging, dict) else -1
    verify = int_or_minus_one(result.get("VerifyResult"))
    company = result.get("CompanyName") or result.get("Name") or ""
    return Page(
        total=max(total, len(data)),
        items=data,
        verified=None if verify < 0 else verify == 1,
        company=str(company).strip(),
    )
