"""Send due outbox items to the platform, one attempt at a time, and record the answer.

At least once: an item is marked delivered only after the platform's 2xx, so
a crash between the 2xx and the mark sends it again, with the same
``Idempotency-Key`` and body, which the platform answers with its first
answer (spec §6). Refusals are dead-lettered with the platform's message;
temporary failures are retried with exponential backoff and jitter, never
sooner than ``Retry-After``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx

from creditguard.masking import mask_text
from creditguard.outbox._item import ClaimedItem, Outbox
from creditguard.signing import signed_headers

__all__ = ["Attempt", "Backoff", "Deliverer"]

log = logging.getLogger("creditguard.outbox")

_RECEIPT_CAP = 1 << 20  # receipts are small; never buffer an endless body
_RETRYABLE_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits between d/2 and d, d = base·factorⁿ⁻¹ ≤ cap."""

    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 300.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        d = min(self.max_s, self.base_s * self.factor ** max(0, attempt - 1))
        return d / 2 + rng.uniform(0, d / 2)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one delivery attempt came to."""

    item_id: int
    key: str
    kind: str
    result: Literal["delivered", "retry", "dead"]
    status: int | None
    message: str
    next_at: float | None = None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _error_text(status: int, body: bytes) -> tuple[str | None, str]:
    """The platform's error code and a message naming status and body (spec §3)."""
    try:
        err = json.loads(body)["error"]
        code = str(err.get("code", "")) or None
        msg = f"HTTP {status} {code}: {err.get('message', '')}"
        if err.get("request_id"):
            msg += f" (request {err['request_id']})"
        return code, msg
    except (ValueError, KeyError, TypeError, AttributeError):
        excerpt = body[:200].decode("utf-8", "replace")
        return None, f"HTTP {status}: {excerpt!r}"


class Deliverer:
    """Delivers due items of one outbox to one platform with a synchronous ``httpx`` client.

    ``secret`` signs each request at send time and is never shown. Pass
    ``transport`` (``httpx.MockTransport`` in tests) or ``client`` to control
    the transport. Safe after ``fork``: the child makes its own client.
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        base_url: str,
        app_key: str,
        secret: str | bytes,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 10.0,
        lease_s: float = 60.0,
        backoff: Backoff = Backoff(),
        max_refusal_attempts: int = 10,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if lease_s <= timeout_s:
            raise ValueError(
                "lease_s must exceed timeout_s, or a slow attempt could be sent twice at once"
            )
        self.outbox = outbox
        self.base_url = base_url.rstrip("/")
        self._prefix = urlsplit(self.base_url).path.rstrip("/")
        self.app_key = app_key
        self._secret = secret
        self._transport = transport
        self.timeout_s = timeout_s
        self.lease_s = lease_s
        self.backoff = backoff
        self.max_refusal_attempts = max_refusal_attempts
        self._clock = clock
        self._rng = rng or random.Random()
        self._client: httpx.Client | None = None
        self._pid = -1
        self._owner = ""

    def __repr__(self) -> str:
        return f"Deliverer(base_url={self.base_url!r}, app_key={self.app_key!r}, secret=<hidden>)"

    @property
    def owner(self) -> str:
        """Lease owner name of this process: host, pid and a random part."""
        self._check_pid()
        return self._owner

    def _check_pid(self) -> None:
        if self._pid != os.getpid():
            # After fork the parent's pooled sockets must not be shared: drop (never close) them.
            self._client = None
            self._pid = os.getpid()
            self._owner = f"{socket.gethostname()}:{self._pid}:{uuid.uuid4().hex[:8]}"

    def _http(self) -> httpx.Client:
        self._check_pid()
        if self._client is None:
            self._client = httpx.Client(
                transport=self._transport,
                timeout=self.timeout_s,
                limits=httpx.Limits(max_connections=8),
            )
        return self._client

    def deliver_one(self) -> Attempt | None:
        """Claim one due item and make one attempt; None when nothing is due."""
        owner = self.owner
        claimed = self.outbox.claim(owner, now=self._clock(), lease_s=self.lease_s, limit=1)
        if not claimed:
            return None
        return self._attempt(claimed[0])

    def deliver_due(
        self, *, limit: int = 1000, stop: Callable[[], bool] | None = None
    ) -> list[Attempt]:
        """Deliver due items until none is due, ``limit`` attempts were made, or ``stop()``."""
        out: list[Attempt] = []
        while len(out) < limit and not (stop is not None and stop()):
            attempt = self.deliver_one()
            if attempt is None:
                break
            out.append(attempt)
        return out

    def close(self) -> None:
        """Close this process's HTTP client."""
        if self._client is not None and self._pid == os.getpid():
            self._client.close()
        self._client = None

    # --- one attempt -----------------------------------------------------------------

    def _attempt(self, c: ClaimedItem) -> Attempt:
        item = c.item
        path = self._prefix + item.path
        headers = signed_headers(self.app_key, self._secret, item.method, path, "", item.body)
        headers["Idempotency-Key"] = item.key
        headers["Content-Type"] = "application/json"
        try:
            with self._http().stream(
                item.method, self.base_url + item.path, content=item.body, headers=headers
            ) as r:
                body = b""
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > _RECEIPT_CAP:
                        break
                status, retry_after = r.status_code, r.headers.get("Retry-After")
        except httpx.TransportError as exc:
            return self._retry(c, None, f"network: {type(exc).__name__}: {exc}", None)
        return self._classify(c, status, body, retry_after)

    def _classify(
        self, c: ClaimedItem, status: int, body: bytes, retry_after: str | None
    ) -> Attempt:
        now = self._clock()
        if 200 <= status < 300:
            try:
                receipt = json.loads(body)
                if not isinstance(receipt, dict):
                    raise ValueError("not an object")
            except ValueError:
                # The platform may or may not have it; resending with the same key is safe.
                excerpt = body[:200].decode("utf-8", "replace")
                return self._retry(
                    c, status, f"HTTP {status} with a body that is not a receipt: {excerpt!r}", None
                )
            self.outbox.mark_delivered(
                c.id,
                c.owner,
                now=now,
                status=status,
                receipt=body[:2000].decode("utf-8", "replace"),
            )
            return Attempt(c.id, c.item.key, c.item.kind, "delivered", status, "delivered")
        code, message = _error_text(status, body)
        if status == 429 or status >= 500 or status in _RETRYABLE_4XX:
            return self._retry(c, status, message, parse_retry_after(retry_after, now))
        if status == 404 and code == "CASE_NOT_FOUND" and c.initiation_known and c.item.group:
            # "Not yet" (spec §6): send the case's initiation again, then this item.
            self.outbox.requeue_initiation(c.item.group, now=now)
            return self._limited_retry(
                c, status, message + " (case not yet known: initiation requeued)"
            )
        if status == 401:
            # A fresh signature may pass (clock skew, nonce clash); give up after a few tries.
            return self._limited_retry(c, status, message)
        return self._dead(c, status, message)

    def _retry(
        self, c: ClaimedItem, status: int | None, message: str, retry_after: float | None
    ) -> Attempt:
        delay = self.backoff.delay(c.attempts, self._rng)
        if retry_after is not None:
            delay = max(delay, retry_after)
        next_at = self._clock() + delay
        message = mask_text(message)
        self.outbox.mark_retry(c.id, c.owner, next_at=next_at, status=status, error=message)
        log.info(
            "outbox item %s (%s) attempt %d failed, retry in %.1f s: %s",
            c.item.key[:12],
            c.item.kind,
            c.attempts,
            delay,
            message,
        )
        return Attempt(c.id, c.item.key, c.item.kind, "retry", status, message, next_at)

    def _limited_retry(self, c: ClaimedItem, status: int, message: str) -> Attempt:
        if c.attempts >= self.max_refusal_attempts:
            return self._dead(c, status, f"{message}; gave up after {c.attempts} attempts")
        return self._retry(c, status, message, None)

    def _dead(self, c: ClaimedItem, status: int | None, message: str) -> Attempt:
        message = mask_text(message)
        self.outbox.mark_dead(c.id, c.owner, now=self._clock(), status=status, error=message)
        log.warning("outbox item %s (%s) dead-lettered: %s", c.item.key[:12], c.item.kind, message)
        return Attempt(c.id, c.item.key, c.item.kind, "dead", status, message)
