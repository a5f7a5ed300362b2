"""Supervision events (spec §10) as domain facts, and the outbox items that carry them.

Core knows :class:`SupervisionEvent`; the platform's channel turns it into
``POST /v1/supervision-events``. The idempotency key derives from the
event's id, so re-enqueueing after a crash is one event to the platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from creditguard.errors import InputError
from creditguard.outbox import OutboxItem, encode_payload, idempotency_key

__all__ = ["EVENT_TYPES", "SupervisionEvent", "event_item", "event_of"]

#: The event types of spec §10.1.
EVENT_TYPES = frozenset(
    {
        "rectification.ordered",
        "rectification.confirmed",
        "rectification.overdue",
        "interview.held",
        "interview.refused",
        "commitment.made",
        "commitment.breached",
        "training.completed",
        "report.submitted",
        "consulting.given",
        "repair.applied",
        "repair.granted",
        "repair.refused",
        "responsible_person.named",
    }
)


@dataclass(frozen=True, slots=True)
class SupervisionEvent:
    """One thing a department did about a listed subject (spec §10.1)."""

    event_id: str
    type: str
    subject_code: str
    record_id: str
    unit_code: str
    at: str  # RFC 3339 with offset
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise InputError(f"unknown supervision event type {self.type!r}")

    def body(self) -> dict[str, Any]:
        """The JSON body of spec §10.1."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "subject_code": self.subject_code,
            "record_id": self.record_id,
            "unit_code": self.unit_code,
            "at": self.at,
            "data": dict(self.data),
        }


def event_item(event: SupervisionEvent) -> OutboxItem:
    """The outbox item carrying ``event``; items of one record are delivered in order."""
    return OutboxItem(
        key=idempotency_key(event.unit_code, event.record_id, "supervision", event.event_id),
        kind="supervision",
        payload=encode_payload(event.body()),
        group=f"supervision:{event.record_id}",
    )


def event_of(item: OutboxItem) -> SupervisionEvent:
    """The event an item carries; :class:`InputError` when it holds none."""
    if item.kind != "supervision":
        raise InputError(
            f"outbox item {item.key[:12]}: kind {item.kind!r} is not a supervision event"
        )
    try:
        d = item.data()
        return SupervisionEvent(
            event_id=str(d["event_id"]),
            type=str(d["type"]),
            subject_code=str(d["subject_code"]),
            record_id=str(d["record_id"]),
            unit_code=str(d["unit_code"]),
            at=str(d["at"]),
            data=dict(d.get("data") or {}),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(
            f"outbox item {item.key[:12]} holds no readable supervision event: {exc}"
        ) from exc
