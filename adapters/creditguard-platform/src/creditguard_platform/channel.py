"""The platform's channel: core's case facts and push events on platform API v1 (spec §§2, 6, 7).

:class:`PlatformChannel` implements :class:`creditguard.channels.Channel`:

- outbox items (case opened §6.1, response §6.2, feedback §6.3, supervision
  events §10.1, disclosures and withdrawals §11) become signed POSTs with the
  item's ``Idempotency-Key``; receipts are read per spec §3,
  a 404 ``CASE_NOT_FOUND`` is :class:`~creditguard.errors.CaseNotKnownYet`;
- the push feed (§7.1) is read page by page into
  :class:`~creditguard.channels.PushEvent` s;
- a region's measure list (§5.1) is fetched conditionally (``If-None-Match``)
  and handed to core as decoded JSON, which judges it measure by measure;
- a webhook push (§7.2) is verified (signature, timestamp window, nonce, §2)
  and read into one event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from creditguard.cases import CaseFeedback, CaseOpened, CaseResponse, fact_of
from creditguard.channels import FetchedList, PushPage, ReceivedPush
from creditguard.credentials import require_secret
from creditguard.errors import CaseNotKnownYet, InputError, SourceRefused, SourceUnavailable
from creditguard.outbox import OutboxItem
from creditguard_platform.auth import NONCE_WINDOW_SECONDS, NonceCache, verify
from creditguard_platform.client import PlatformClient, json_object, push_event
from creditguard_platform.errors import error_from_response

__all__ = ["PlatformChannel", "case_body"]


def case_body(fact: CaseOpened | CaseResponse | CaseFeedback) -> dict[str, Any]:
    """The JSON body of spec §6 for a case fact."""
    if isinstance(fact, CaseOpened):
        return {
            "case_id": fact.case_id,
            "subject_code": fact.subject_code,
            "record_ids": list(fact.record_ids),
            "step": fact.step,
            "region": fact.region,
            "unit_code": fact.unit_code,
            "initiated_at": fact.initiated_at,
        }
    if isinstance(fact, CaseResponse):
        return {
            "unit_code": fact.unit_code,
            "accepted_measures": list(fact.accepted),
            "declined_measures": [{"code": c, "reason": r} for c, r in fact.declined],
            "responded_at": fact.responded_at,
        }
    body: dict[str, Any] = {
        "unit_code": fact.unit_code,
        "measure_code": fact.measure_code,
        "step": fact.step,
        "action": fact.action,
        "detail": fact.detail,
        "decided_at": fact.decided_at,
    }
    if fact.workflow_ref is not None:
        body["workflow_ref"] = fact.workflow_ref
    return body


class PlatformChannel:
    """Delivery, push feed and webhook verification for one platform and one unit key.

    The platform signs webhook pushes with the unit's secret (spec §7.2), so
    the same key verifies them. ``nonces`` keeps the nonces seen in this
    process (the receiver also refuses replays across processes, through its
    store).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        app_key: str,
        secret: str | bytes,
        *,
        clock: Callable[[], float] | None = None,
        nonces: NonceCache | None = None,
    ) -> None:
        self.name = name
        self._secrets = {app_key: require_secret(secret, f"channel {name!r}")}
        self.client = PlatformClient(base_url, app_key, secret, name=name, clock=clock)
        self._nonces = nonces if nonces is not None else NonceCache()

    def __repr__(self) -> str:
        return f"PlatformChannel(name={self.name!r}, client={self.client!r})"

    # --- delivery ----------------------------------------------------------------------

    def delivery_request(self, item: OutboxItem) -> httpx.Request:
        """The signed POST of spec §6, §10 or §11 for an item (``InputError`` for anything else)."""
        if item.kind == "supervision":
            from creditguard.supervision.events import event_of

            return self.client.build_supervision_event(
                event_of(item).body(), idempotency_key=item.key
            )
        if item.kind == "disclosure":
            from creditguard.supervision.disclosure import disclosure_request_of

            disclosure_id, payload, withdrawal = disclosure_request_of(item)
            if withdrawal:
                return self.client.build_disclosure_withdrawal(
                    disclosure_id, payload, idempotency_key=item.key
                )
            return self.client.build_disclosure(payload, idempotency_key=item.key)
        if item.kind not in ("case", "response", "feedback"):
            raise InputError(f"{self.name}: no request for outbox items of kind {item.kind!r}")
        fact = fact_of(item)
        body = case_body(fact)
        if isinstance(fact, CaseOpened):
            return self.client.build_case(body, idempotency_key=item.key)
        if isinstance(fact, CaseResponse):
            return self.client.build_case_response(fact.case_id, body, idempotency_key=item.key)
        return self.client.build_case_feedback(fact.case_id, body, idempotency_key=item.key)

    def read_receipt(self, item: OutboxItem, response: httpx.Response) -> str:
        """The receipt of a 2xx answer as text; the spec §3 error otherwise."""
        try:
            receipt = self.client.parse_receipt(response)
        except SourceRefused as exc:
            if exc.status == 404 and exc.code == "DISCLOSURE_NOT_FOUND":
                # spec §11.2: the disclosure itself may still be on its way: retry later.
                raise SourceUnavailable(
                    "the platform does not know this disclosure yet",
                    source=self.name,
                    status=404,
                    code="DISCLOSURE_NOT_FOUND",
                ) from exc
            if exc.status == 404 and exc.code == "CASE_NOT_FOUND":
                raise CaseNotKnownYet(
                    "the platform does not know this case yet",
                    source=self.name,
                    status=404,
                    code="CASE_NOT_FOUND",
                ) from exc
            raise
        return json.dumps(receipt, ensure_ascii=False)

    # --- push feed -----------------------------------------------------------------------

    def push_request(self, cursor: str | None, *, limit: int) -> httpx.Request:
        """GET one page of ``/v1/pushes`` after ``cursor``."""
        if not 1 <= limit <= 1000:
            raise InputError(f"push feed page size must be 1 to 1000, got {limit}")
        return self.client.build_pushes(cursor, limit=limit)

    def read_push_page(self, response: httpx.Response) -> PushPage:
        """The page's events and the cursor to persist after them."""
        return self.client.parse_pushes(response)

    # --- measure lists (§5.1) -----------------------------------------------------------

    def measure_list_request(self, region: str, *, etag: str | None = None) -> httpx.Request:
        """GET the list in force for ``region``; ``etag`` asks for a 304 when unchanged."""
        if not (len(region) == 6 and region.isascii() and region.isdigit()):
            raise InputError(f"region code {region!r} is not 6 digits")
        return self.client.build_measure_list(region, etag=etag)

    def read_measure_list(self, response: httpx.Response) -> FetchedList:
        """The list as sent (decoded JSON object, not judged here) and its ETag; 304: unchanged.

        A non-2xx answer raises per spec §3 (404: no list for the region is a
        :class:`~creditguard.errors.SourceRefused`); a body that is not a JSON
        object is :class:`~creditguard.errors.SourceUnavailable`.
        """
        etag = response.headers.get("etag")
        if response.status_code == 304:
            return FetchedList(None, etag, not_modified=True)
        if not 200 <= response.status_code < 300:
            raise error_from_response(response, source=self.name)
        data = json_object(self.name, response)
        return FetchedList(data, etag or _str_or_none(data.get("etag")))

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
        """Verify a pushed request (spec §2) and read its one event (spec §7.2).

        :class:`~creditguard.errors.SignatureError` when the request is not
        signed with this unit's key, is outside the time window or replays a
        nonce; :class:`~creditguard.errors.InputError` when the body is not an event.
        """
        app_key = verify(
            headers, self._secrets, method, path, query, body, nonces=self._nonces, now=now
        )
        nonce = {k.lower(): v for k, v in headers.items()}.get("x-cg-nonce", "")
        try:
            raw = json.loads(body)
        except ValueError as exc:
            raise InputError(f"not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise InputError("an event object is required")
        try:
            event = push_event(raw)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return ReceivedPush(
            event=event,
            replay_key=f"{app_key}\x1f{nonce}",
            replay_window_s=NONCE_WINDOW_SECONDS,
            sender=app_key,
        )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
