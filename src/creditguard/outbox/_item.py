"""What the outbox holds: items to deliver, their state, and the store protocol."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

__all__ = [
    "CaseEntry",
    "ClaimedItem",
    "ItemInfo",
    "ItemKind",
    "Outbox",
    "OutboxItem",
    "OutboxStatus",
    "encode_payload",
    "idempotency_key",
]

#: What an item reports: spec §6.1 case, §6.2 response, §6.3 feedback, §10 and §11.
ItemKind = Literal["case", "response", "feedback", "supervision", "disclosure"]
ItemState = Literal["pending", "delivered", "dead"]
_KINDS = frozenset(get_args(ItemKind))


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
    """One fact to deliver to the platform, as core knows it (not as the wire carries it).

    ``payload`` is the fact as canonical JSON (for cases, responses and
    feedback: :func:`creditguard.cases.fact_of` reads it back); the
    configured platform's channel turns it into a signed request at send
    time, because a signature's timestamp must be fresh. ``group`` orders
    items: within a group (a case), items are delivered in the order they
    were enqueued, each only after the ones before it are settled.
    """

    key: str
    kind: ItemKind
    payload: bytes
    group: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.key) <= 128:
            raise ValueError("idempotency key must be 1 to 128 characters (spec §6)")
        if self.kind not in _KINDS:
            raise ValueError(f"outbox item kind must be one of {sorted(_KINDS)}, got {self.kind!r}")

    @property
    def topic(self) -> str:
        """What the item is about, for operators: ``feedback of case 320100-CG-…``."""
        return f"{self.kind} of {self.group}" if self.group else self.kind

    def data(self) -> dict[str, Any]:
        """The payload as a mapping."""
        value = json.loads(self.payload)
        if not isinstance(value, dict):
            raise ValueError(f"outbox item {self.key[:12]}: payload is not a JSON object")
        return value


def encode_payload(fact: Mapping[str, Any]) -> bytes:
    """Canonical JSON of a fact: the same fact always gives the same bytes."""
    return json.dumps(fact, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(
        "utf-8"
    )


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
class CaseEntry:
    """A case initiation as the outbox holds it, and how much feedback its case has.

    ``payload`` is the initiation fact (:func:`creditguard.cases.fact_of` of
    an item of kind ``case`` reads it); ``created_at`` is when it was first
    durably written; ``feedback`` counts the feedback items of the case in
    this outbox (0: nothing fed back yet).
    """

    case_id: str
    payload: bytes
    created_at: float
    state: str
    feedback: int

    def item(self) -> OutboxItem:
        """The initiation item (its key is not kept here: only the fact matters)."""
        return OutboxItem(key="case-entry", kind="case", payload=self.payload, group=self.case_id)


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """An item as operators see it (``outbox dead``); ``topic`` is :attr:`OutboxItem.topic`."""

    id: int
    key: str
    kind: str
    group: str | None
    topic: str
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
            # Milliseconds are enough; a float's 15+ digit tail would also read like an ID number.
            "oldest_pending_age_s": (
                None if self.oldest_pending_age_s is None else round(self.oldest_pending_age_s, 3)
            ),
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

    def case_entry(self, case_id: str) -> CaseEntry | None: ...

    def unfed_cases(self, *, opened_before: float, limit: int = 100) -> list[CaseEntry]: ...

    def count_unfed(self, *, opened_before: float) -> int: ...

    def present(self, keys: Sequence[str]) -> set[str]: ...

    def payload(self, item_id: int) -> bytes | None: ...

    def close(self) -> None: ...
