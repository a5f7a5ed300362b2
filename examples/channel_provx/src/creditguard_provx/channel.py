"""The Province X channel: core's case facts and push events on Province X's API.

Nothing here is known to creditguard's core: the facts come from
:mod:`creditguard.cases`, the channel protocol from :mod:`creditguard.channels`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from creditguard.cases import CaseFeedback, CaseOpened, CaseResponse, fact_of
from creditguard.channels import PushEvent, PushPage, ReceivedPush
from creditguard.credentials import require_secret
from creditguard.errors import (
    CaseNotKnownYet,
    InputError,
    SignatureError,
    SourceRefused,
    SourceUnavailable,
)
from creditguard.models import CreditRecord
from creditguard.outbox import OutboxItem

__all__ = ["ProvXChannel", "px_signature"]

_WINDOW_S = 120
_KINDS = {"ADD": "record.added", "CHANGE": "record.updated", "DROP": "record.removed"}


def px_signature(secret: str | bytes, method: str, path: str, time_s: str, body: bytes) -> str:
    """Province X's signature: hex HMAC-SHA256 over method, path, time and the body's hash."""
    key = secret.encode() if isinstance(secret, str) else secret
    text = "|".join((method.upper(), path, time_s, hashlib.sha256(body).hexdigest()))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _data(fact: CaseOpened | CaseResponse | CaseFeedback) -> tuple[str, dict[str, Any]]:
    if isinstance(fact, CaseOpened):
        return "case-open", {
            "caseNo": fact.case_id,
            "creditCode": fact.subject_code,
            "listings": list(fact.record_ids),
            "stage": fact.step,
            "area": fact.region,
            "org": fact.unit_code,
            "time": fact.initiated_at,
        }
    if isinstance(fact, CaseResponse):
        return "case-reply", {
            "caseNo": fact.case_id,
            "org": fact.unit_code,
            "take": list(fact.accepted),
            "refuse": [{"measure": c, "why": r} for c, r in fact.declined],
            "time": fact.responded_at,
        }
    return "case-result", {
        "caseNo": fact.case_id,
        "org": fact.unit_code,
        "measure": fact.measure_code,
        "stage": fact.step,
        "result": fact.action,
        "note": fact.detail,
        "bizNo": fact.workflow_ref,
        "time": fact.decided_at,
    }


class ProvXChannel:
    """Delivery, change feed and webhook pushes for one Province X key."""

    def __init__(self, name: str, base_url: str, key_id: str, secret: str | bytes) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.key_id = key_id
        self._secret = require_secret(secret, f"channel {name!r}")
        self._prefix = httpx.URL(self.base_url).raw_path.decode().rstrip("/")

    def __repr__(self) -> str:
        return (
            f"ProvXChannel(name={self.name!r}, base_url={self.base_url!r}, key_id={self.key_id!r})"
        )

    def _signed(self, method: str, path: str, body: bytes = b"", **params: str) -> httpx.Request:
        request = httpx.Request(
            method,
            self.base_url + path,
            params=params or None,
            content=body,
            headers={"Content-Type": "application/json"} if body else None,
        )
        now = str(int(time.time()))
        signature = px_signature(
            self._secret, method, request.url.raw_path.decode().split("?")[0], now, body
        )
        request.headers["Authorization"] = f"PX-HMAC {self.key_id}:{signature}"
        request.headers["X-PX-Time"] = now
        return request

    def _fail(self, response: httpx.Response) -> Exception:
        try:
            reason = str(json.loads(response.content).get("reason", ""))
        except (ValueError, AttributeError):
            reason = response.text[:200]
        if response.status_code == 429 or response.status_code >= 500:
            retry = response.headers.get("retry-after", "")
            return SourceUnavailable(
                f"Province X: {reason}",
                source=self.name,
                status=response.status_code,
                retry_after=float(retry) if retry.isdigit() else None,
            )
        if reason == "unknown-case":
            return CaseNotKnownYet(
                f"Province X: {reason}", source=self.name, status=response.status_code
            )
        return SourceRefused(f"Province X: {reason}", source=self.name, status=response.status_code)

    # --- delivery ------------------------------------------------------------------------

    def delivery_request(self, item: OutboxItem) -> httpx.Request:
        """Every fact goes to ``POST /px/report``; the item's key is the report's ``ref``."""
        kind, data = _data(fact_of(item))
        body = json.dumps({"kind": kind, "ref": item.key, "data": data}, sort_keys=True).encode()
        return self._signed("POST", "/px/report", body)

    def read_receipt(self, item: OutboxItem, response: httpx.Response) -> str:
        """The ticket of an ``{"ok": true}`` answer."""
        if response.status_code != 200:
            raise self._fail(response)
        try:
            answer = json.loads(response.content)
            if answer.get("ok") is not True:
                raise ValueError("not ok")
        except (ValueError, AttributeError):
            raise SourceUnavailable(
                "Province X answered 200 without a ticket", source=self.name, status=200
            ) from None
        return str(answer.get("ticket", ""))

    # --- change feed -----------------------------------------------------------------------

    def push_request(self, cursor: str | None, *, limit: int) -> httpx.Request:
        """``GET /px/changes?since=<seq>`` (Province X pages by itself; ``limit`` is ignored)."""
        return self._signed("GET", "/px/changes", since=cursor or "0")

    def read_push_page(self, response: httpx.Response) -> PushPage:
        """The changes as push events; ``last`` is the cursor."""
        if response.status_code != 200:
            raise self._fail(response)
        try:
            page = json.loads(response.content)
            events = tuple(self._event(item) for item in page["items"])
            last = page.get("last")
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceUnavailable(
                f"Province X change feed: malformed answer ({exc})", source=self.name, status=200
            ) from None
        return PushPage(events, None if last is None else str(last))

    def _event(self, item: Mapping[str, Any]) -> PushEvent:
        kind = _KINDS.get(str(item["kind"]), f"provx.{item['kind']}")
        listing = item.get("listing")
        try:
            record = CreditRecord.model_validate(listing) if isinstance(listing, dict) else None
        except ValueError as exc:
            return PushEvent(event_id=f"px-{item['seq']}", type=kind, problem=str(exc)[:200])
        return PushEvent(
            event_id=f"px-{item['seq']}",
            type=kind,
            subject_code=str(item.get("creditCode", "")),
            record=record,
            record_id=str(item.get("listingId", "")),
            at=str(item.get("time", "")),
        )

    # --- webhook -------------------------------------------------------------------------

    def receive_push(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
    ) -> ReceivedPush:
        """Check ``Authorization``/``X-PX-Time`` and read one change."""
        lower = {k.lower(): v for k, v in headers.items()}
        auth, when = lower.get("authorization", ""), lower.get("x-px-time", "")
        scheme, _, rest = auth.partition(" ")
        key_id, _, signature = rest.partition(":")
        if scheme != "PX-HMAC" or key_id != self.key_id or not signature:
            raise SignatureError("missing or foreign Authorization")
        if not (when.isascii() and when.isdecimal() and len(when) <= 12):
            raise SignatureError("X-PX-Time is not Unix seconds")
        if abs(now - int(when)) > _WINDOW_S:
            raise SignatureError("X-PX-Time is outside the window")
        wanted = px_signature(self._secret, method, path, when, body)
        if not hmac.compare_digest(wanted, signature):
            raise SignatureError("signature does not match")
        try:
            event = self._event(json.loads(body))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"not a Province X change: {exc}") from None
        # Province X has no nonce: one (time, signature) pair is one request.
        return ReceivedPush(
            event, replay_key=f"px|{when}|{signature}", replay_window_s=2 * _WINDOW_S
        )
