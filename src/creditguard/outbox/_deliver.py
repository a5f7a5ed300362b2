"""Send due outbox items through the platform's channel, one attempt at a time, and record the answer.

At least once: an item is marked delivered only after the channel accepted
the platform's receipt, so a crash between the receipt and the mark sends it
again, with the same ``Idempotency-Key`` and body, which the platform answers
with its first answer (spec §6). Refusals are dead-lettered with the
platform's message; temporary failures are retried with exponential backoff
and jitter, never sooner than the ``Retry-After`` the channel read.

The channel (:mod:`creditguard.channels`) builds each request and reads each
answer; the deliverer owns the HTTP client, the lease and the outbox. Only
the storage work runs inside ``gate`` (the fork gate, for the background
worker): a fork never waits on the network.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import httpx

from creditguard.errors import (
    CaseNotKnownYet,
    InputError,
    SourceError,
    SourceRefused,
    SourceUnavailable,
)
from creditguard.masking import mask_text
from creditguard.outbox._item import ClaimedItem, Outbox
from creditguard.remote.retry import Backoff, classify_status

if TYPE_CHECKING:
    from creditguard.channels import Channel

__all__ = ["DEFAULT_LEASE_S", "Attempt", "Backoff", "Deliverer"]

log = logging.getLogger("creditguard.outbox")

#: Default lease of a claimed item; must exceed the HTTP timeout.
DEFAULT_LEASE_S = 60.0
#: The outbox's backoff: 0.5–1 s, 1–2 s, 2–4 s … at most 300 s (the one Backoff of the project).
DEFAULT_BACKOFF = Backoff()
_RECEIPT_CAP = 1 << 20  # receipts are small; never buffer an endless body


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


def _no_gate() -> AbstractContextManager[None]:
    return contextlib.nullcontext()


class Deliverer:
    """Delivers due items of one outbox through one channel with a synchronous ``httpx`` client.

    Pass ``transport`` (``httpx.MockTransport`` in tests) to control the
    transport. ``gate`` wraps every storage step (claim, mark), never the
    HTTP exchange (the delivery worker sets it to the fork gate). Safe after ``fork``: the child makes its own client.
    """

    def __init__(
        self,
        outbox: Outbox,
        channel: Channel,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 10.0,
        lease_s: float = DEFAULT_LEASE_S,
        backoff: Backoff = DEFAULT_BACKOFF,
        max_refusal_attempts: int = 10,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        gate: Callable[[], AbstractContextManager[None]] = _no_gate,
    ) -> None:
        if lease_s <= timeout_s:
            raise ValueError(
                f"lease_s ({lease_s:g}) must exceed timeout_s ({timeout_s:g}), "
                "or a slow attempt could be sent twice at once"
            )
        self.outbox = outbox
        self.channel = channel
        self._transport = transport
        self.timeout_s = timeout_s
        self.lease_s = lease_s
        self.backoff = backoff
        self.max_refusal_attempts = max_refusal_attempts
        self._clock = clock
        self._rng = rng or random.Random()
        self.gate = gate
        self._client: httpx.Client | None = None
        self._pid = -1
        self._owner = ""

    def __repr__(self) -> str:
        return f"Deliverer(outbox={self.outbox!r}, channel={self.channel!r})"

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
        with self.gate():
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
        try:
            request = self.channel.delivery_request(c.item)
        except InputError as exc:
            # The item holds nothing this channel can send: an operator must look at it.
            return self._dead(c, None, f"cannot build the request: {exc}")
        try:
            streamed = self._http().send(request, stream=True)
            try:
                body = b""
                for chunk in streamed.iter_bytes():
                    body += chunk
                    if len(body) > _RECEIPT_CAP:
                        break
            finally:
                streamed.close()
        except httpx.TransportError as exc:
            return self._retry(c, None, f"network: {type(exc).__name__}: {exc}", None)
        response = httpx.Response(
            streamed.status_code, headers=streamed.headers, content=body, request=request
        )
        try:
            receipt = self.channel.read_receipt(c.item, response)
        except SourceError as exc:
            return self._failed(c, response.status_code, exc)
        with self.gate():
            self.outbox.mark_delivered(
                c.id,
                c.owner,
                now=self._clock(),
                status=response.status_code,
                receipt=receipt[:2000],
            )
        return Attempt(
            c.id, c.item.key, c.item.kind, "delivered", response.status_code, "delivered"
        )

    def _failed(self, c: ClaimedItem, status: int, exc: SourceError) -> Attempt:
        message = str(exc)
        if isinstance(exc, SourceUnavailable):
            return self._retry(c, status, message, exc.retry_after)
        if isinstance(exc, CaseNotKnownYet) and c.initiation_known and c.item.group:
            # "Not yet" (spec §6): send the case's initiation again, then this item.
            with self.gate():
                self.outbox.requeue_initiation(c.item.group, now=self._clock())
            return self._limited_retry(
                c, status, message + " (case not yet known: initiation requeued)"
            )
        if isinstance(exc, SourceRefused) and classify_status(exc.status or 0) == "auth":
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
        with self.gate():
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
        with self.gate():
            self.outbox.mark_dead(c.id, c.owner, now=self._clock(), status=status, error=message)
        log.warning("outbox item %s (%s) dead-lettered: %s", c.item.key[:12], c.item.kind, message)
        return Attempt(c.id, c.item.key, c.item.kind, "dead", status, message)
