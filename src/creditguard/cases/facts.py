"""Case facts (发起—响应—反馈, spec §6) as core knows them, and the outbox items that carry them.

A fact is a frozen dataclass: :class:`CaseOpened`, :class:`CaseResponse`,
:class:`CaseFeedback`. The item builders are pure: a fact in, an
:class:`~creditguard.outbox.OutboxItem` out, with a deterministic
idempotency key, so reporting the same fact twice is one fact to the
platform. :func:`fact_of` reads an item back; the platform's channel turns
the fact into its own request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from creditguard.errors import InputError
from creditguard.outbox import OutboxItem, encode_payload, idempotency_key

__all__ = [
    "ACTIONS",
    "ACTION_BY_EFFECT",
    "CaseFact",
    "CaseFeedback",
    "CaseOpened",
    "CaseResponse",
    "case_id_for",
    "case_id_for_application",
    "fact_of",
    "feedback_item",
    "initiation_item",
    "response_item",
]

#: The feedback action (spec §6.3) for a measure applied with each effect.
ACTION_BY_EFFECT: dict[str, str] = {
    "deny": "denied",
    "restrict": "restricted",
    "strict_review": "reviewed",
    "no_commitment": "commitment_refused",
    "increase_inspection": "inspected",
    "notify": "notified",
}
ACTIONS: frozenset[str] = frozenset(ACTION_BY_EFFECT.values()) | {"not_applied"}

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


def case_id_for(unit_code: str, decision_id: str) -> str:
    """The unit-initiated case id for a decision: ``{unit_code}-{decision_id}`` (spec §6).

    Deterministic, so initiating twice for one decision is one case. A
    decision id with characters unfit for an identifier is replaced by its hash.
    """
    part = (
        decision_id
        if _SAFE_ID.match(decision_id)
        else hashlib.sha256(decision_id.encode()).hexdigest()[:32]
    )
    return f"{unit_code}-{part}"


def case_id_for_application(
    unit_code: str, application: str, step: str, generation: int = 1
) -> str:
    """The case id of an application's step: ``{unit_code}-A{hash}`` (``.2``, ``.3`` … after a change).

    Depends on the unit, the integrator's application reference and the step
    only, never on a decision id (random per process), so a step retried after
    a crash, in any process, finds the same case. ``generation`` counts the
    cases opened for it because the applied measures changed.
    """
    if generation < 1:
        raise InputError(f"case generation must be 1 or more, got {generation}")
    raw = "\x1f".join(("creditguard/app/1", unit_code, application, step))
    base = f"{unit_code}-A{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:24]}"
    return base if generation == 1 else f"{base}.{generation}"


@dataclass(frozen=True, slots=True)
class CaseOpened:
    """This unit opened a case: ``subject_code`` met ``step`` and records with effect.

    ``measures`` (code, effect) and ``workflow_ref`` (the integrator's
    application reference) are core's own: they let a later process see what
    the case applied and feed it back; channels need not send them.
    """

    case_id: str
    unit_code: str
    subject_code: str
    record_ids: tuple[str, ...]
    step: str
    region: str
    initiated_at: str
    measures: tuple[tuple[str, str], ...] = ()
    workflow_ref: str | None = None
    decision_id: str = ""


@dataclass(frozen=True, slots=True)
class CaseResponse:
    """This unit's answer to a platform-initiated case: measures accepted and declined (code, reason)."""

    case_id: str
    unit_code: str
    accepted: tuple[str, ...]
    declined: tuple[tuple[str, str], ...]
    responded_at: str
    #: the region the platform named for the case (core's own, for reports; channels need not send it)
    region: str = ""


@dataclass(frozen=True, slots=True)
class CaseFeedback:
    """What this unit did about one applied measure of a case."""

    case_id: str
    unit_code: str
    measure_code: str
    step: str
    action: str
    detail: str
    decided_at: str
    workflow_ref: str | None = None
    #: the case's region (core's own, for reports: a platform case has no initiation
    #: here and leaves the case book once fed back); "" in facts written before it was kept
    region: str = ""


CaseFact = CaseOpened | CaseResponse | CaseFeedback

_KIND_OF: dict[type[Any], str] = {
    CaseOpened: "case",
    CaseResponse: "response",
    CaseFeedback: "feedback",
}
_TYPE_OF = {kind: cls for cls, kind in _KIND_OF.items()}


def _item(fact: CaseFact, part: str = "") -> OutboxItem:
    kind = _KIND_OF[type(fact)]
    return OutboxItem(
        key=idempotency_key(fact.unit_code, fact.case_id, kind, part),
        kind=kind,  # type: ignore[arg-type]
        payload=encode_payload(asdict(fact)),
        group=fact.case_id,
    )


def initiation_item(fact: CaseOpened) -> OutboxItem:
    """The outbox item that opens a case (delivered before anything else about it)."""
    return _item(fact)


def response_item(fact: CaseResponse) -> OutboxItem:
    """The outbox item answering a platform-initiated case."""
    return _item(fact)


def feedback_item(fact: CaseFeedback) -> OutboxItem:
    """The outbox item reporting one measure's feedback (keyed by case and measure)."""
    return _item(fact, fact.measure_code)


def _tuple(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise TypeError("expected a list")
    return tuple(tuple(v) if isinstance(v, list) else v for v in value)


def fact_of(item: OutboxItem) -> CaseFact:
    """The case fact an item carries; :class:`~creditguard.errors.InputError` when it holds none.

    An item written by creditguard 0.1 (a request body, not a fact) is
    refused here, so the deliverer dead-letters it with this message.
    """
    cls = _TYPE_OF.get(item.kind)
    if cls is None:
        raise InputError(f"outbox item {item.key[:12]}: kind {item.kind!r} is not a case fact")
    try:
        data: Mapping[str, Any] = item.data()
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        for name in ("record_ids", "accepted", "declined", "measures"):
            if name in fields:
                fields[name] = _tuple(fields[name])
        return cls(**fields)  # type: ignore[no-any-return]
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(
            f"outbox item {item.key[:12]} ({item.topic}) holds no readable {item.kind} fact "
            f"(written by an older creditguard?): {type(exc).__name__}: {exc}"
        ) from exc
