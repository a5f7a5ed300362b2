"""What the outbox holds: items to deliver, their state, and the store protocol."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "ClaimedItem",
    "ItemInfo",
    "ItemKind",
    "Outbox",
    "OutboxItem",
    "OutboxStatus",
    "idempotency_key",
]

#: What an item reports: spec §6.1 case, §6.2 response, §6.3 feedback, §10 and §11.
ItemKind = Literal["case", "response", "feedback", "supervision", "disclosure"]
ItemState = Literal["pending", "delivered", "dead"]


def idempotency_key(unit_code: str, group: str, kind: str, part: str = "") -> str:
    """Deterministic ``Idempotency-Key`` (64 hex characters) for one item.

    The same unit, case (or other group), kind and part (a measure code for
    feedback) always give the same key, so re-reporting the same fact after a
    crash or a retry is one fact to the platform.
    """
    raw = "\x1f".join(("creditguard/1", unit_code, group, kind, part))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One request to deliver to the platform, exactly as it will be sent.

    ``path`` is relative to the platform's base URL and starts with ``/v1/``.
    ``group`` orders items: within a group (a case), items are delivered in the
    order they were enqueued, each only after the ones before it are settled.
    The request is signed at send time, because a signature's timestamp must
    be fresh (spec §2).
    """

    key: str
    kind: ItemKind
    path: str
    body: bytes
    group: str | None = None
    method: str = "POST"

    def __post_init__(self) -> None:
        if not 1 <= len(self.key) <= 128:
            raise ValueError("idempotency key must be 1 to 128 characters (spec §6)")
        if not self.path.startswith("/v1/"):
            raise ValueError(f"outbox path must start with /v1/, got {self.path!r}")


@dataclass(frozen=True, slots=True)
class ClaimedItem:
    """An item leased to one deliverer for one attempt."""

    id: int
    item: OutboxItem
    attempts: int
    owner: str
    #: True when the group's case initiation is (or was) in this outbox, so a
    #: 404 CASE_NOT_FOUND means "not yet" rather than a refusal.
    initiation_known: bool = False


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """An item as operators see it (``outbox dead``)."""

    id: int
    key: str
    kind: str
    group: str | None
    path: str
    state: str
    attempts: int
    created_at: float
    last_status: int | None
    last_error: str | None
    next_at: float | None = None


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """Backlog figures for operators (``outbox status``)."""

    pending: int
    due: int
    in_flight: int
    delivered: int
    dead: int
    oldest_pending_age_s: float | None
    max_attempts: int
    by_kind: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready mapping."""
        return {
            "pending": self.pending,
            "due": self.due,
            "in_flight": self.in_flight,
            "delivered": self.delivered,
            "dead": self.dead,
            "oldest_pending_age_s": self.oldest_pending_age_s,
            "max_attempts": self.max_attempts,
            "pending_by_kind": dict(self.by_kind),
        }


class Outbox(Protocol):
    """A durable store of items to deliver (SQLite or PostgreSQL).

    ``enqueue`` returns only once the item is durably stored; it raises
    :class:`creditguard.errors.StorageError` when it cannot be, so the step
    fails rather than losing feedback. Keys are unique: enqueueing a key that
    is already there is a no-op that returns False.
    """

    def enqueue(self, item: OutboxItem) -> bool: ...

    def enqueue_many(self, items: Sequence[OutboxItem]) -> int: ...

    def claim(
        self, owner: str, *, now: float, lease_s: float, limit: int = 1
    ) -> list[ClaimedItem]: ...

    def mark_delivered(
        self, item_id: int, owner: str, *, now: float, status: int, receipt: str
    ) -> None: ...

    def mark_retry(
        self, item_id: int, owner: str, *, next_at: float, status: int | None, error: str
    ) -> None: ...

    def mark_dead(
        self, item_id: int, owner: str, *, now: float, status: int | None, error: str
    ) -> None: ...

    def requeue_initiation(self, group: str, *, now: float) -> bool: ...

    def next_due_at(self) -> float | None: ...

    def status(self, *, now: float) -> OutboxStatus: ...

    def items(self, state: ItemState, *, limit: int = 100) -> list[ItemInfo]: ...

    def retry_dead(self, ids: Sequence[int] | None = None, *, now: float) -> int: ...

    def make_due(self, *, now: float) -> int: ...

    def close(self) -> None: ...
