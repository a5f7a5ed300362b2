"""The reference platform's supervision endpoints: events (spec §10), disclosures and withdrawals (§11).

Each event type's ``data`` is checked field by field; a disclosure of a
record or list that is not public is refused (403).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from creditguard.testing.calls import (
    Answer,
    ApiError,
    Ctx,
    is_date,
    is_str,
    json_answer,
    new_receipt,
    require,
    require_time,
    valid_code,
)
from creditguard.testing.state import PlatformState

__all__ = ["disclosure", "supervision_event", "withdrawal"]

_DISCLOSURE_KINDS = frozenset(
    {"administrative_penalty", "blacklist", "focus_list", "inspection", "judgment"}
)
_INTERVIEW_KINDS = frozenset({"prompt", "warning"})
_Checker = Callable[[Any], bool]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v >= 0


# type -> {field: checker} for spec §10's `data`

_REPAIR: dict[str, _Checker] = {"rules": is_str, "detail": is_str}
_SUPERVISION_DATA: dict[str, dict[str, _Checker]] = {
    "rectification.ordered": {
        "requirements": is_str,
        "deadline": is_date,
        "public": lambda v: isinstance(v, bool),
    },
    "rectification.confirmed": {"confirmed_on": is_date},
    "interview.held": {
        "interview_kind": lambda v: v in _INTERVIEW_KINDS,
        "attendee": lambda v: isinstance(v, dict),
    },
    "interview.refused": {"interview_kind": lambda v: v in _INTERVIEW_KINDS, "detail": is_str},
    "commitment.made": {
        "text_sha256": lambda v: (
            isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None
        ),
        "published_url": is_str,
    },
    "commitment.breached": {"commitment_event_id": is_str, "detail": is_str},
    "training.completed": {"hours": _is_number, "organizer": is_str},
    "report.submitted": {"agency_code": is_str, "report_no": is_str},
    "repair.applied": _REPAIR,
    "repair.granted": _REPAIR,
    "repair.refused": _REPAIR,
    "rectification.overdue": {"deadline": is_date},
    "consulting.given": {"topic": is_str, "organizer": is_str, "hours": _is_number},
    "responsible_person.named": {
        "person": lambda v: (
            isinstance(v, dict)
            and is_str(v.get("code"))
            and is_str(v.get("name"))
            and v.get("role") in ("legal_representative", "responsible_person", "related_person")
        )
    },
}
_WITHDRAWAL_REASONS = frozenset(
    {"penalty_revoked", "penalty_changed", "repaired", "expired", "other"}
)


# --- §10 supervision events, §11 disclosures -----------------------------------------


def supervision_event(state: PlatformState, ctx: Ctx) -> Answer:
    """POST /v1/supervision-events (spec §10): the event's ``data`` checked for its type."""
    body = ctx.json()
    require(body, "event_id", "type", "unit_code")
    require_time(body, "at")
    code = valid_code(body.get("subject_code"), "subject_code")
    checks = _SUPERVISION_DATA.get(str(body["type"]))
    if checks is None:
        raise ApiError(400, f"unknown supervision event type {body['type']!r}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise ApiError(400, "data must be an object")
    for name, ok in checks.items():
        if not ok(data.get(name)):
            raise ApiError(400, f"data.{name} is missing or malformed for type {body['type']}")
    with state.lock:
        receipt = new_receipt(state)
        state.store.supervision_events.append({**body, "subject_code": code, **receipt})
    return json_answer(201, receipt)


def disclosure(state: PlatformState, ctx: Ctx) -> Answer:
    """POST /v1/disclosures (spec §11): refused for a record or list that is not public."""
    body = ctx.json()
    if not is_date(body.get("publish_until")):
        raise ApiError(400, "publish_until is missing or not a YYYY-MM-DD date")
    require(body, "disclosure_id", "kind", "decision_no", "content")
    if body["kind"] not in _DISCLOSURE_KINDS:
        raise ApiError(400, f"kind {body['kind']!r} is not one of {sorted(_DISCLOSURE_KINDS)}")
    if not is_date(body.get("decided_on")):
        raise ApiError(400, "decided_on is missing or not a YYYY-MM-DD date")
    subject = body.get("subject")
    if not isinstance(subject, dict):
        raise ApiError(400, "subject must be an object with a code")
    code = valid_code(subject.get("code"), "subject.code")
    authority = body.get("authority")
    if not isinstance(authority, dict) or not is_str(authority.get("code")):
        raise ApiError(400, "authority must be an object with a code")
    with state.lock:
        _refuse_non_public(state, body, code)
        receipt = new_receipt(state)
        state.store.disclosures.append({**body, **receipt})
    return json_answer(201, receipt)


def withdrawal(state: PlatformState, ctx: Ctx) -> Answer:
    """POST /v1/disclosures/{id}/withdrawal (spec §11)."""
    body = ctx.json()
    if body.get("reason") not in _WITHDRAWAL_REASONS:
        raise ApiError(400, f"reason must be one of {sorted(_WITHDRAWAL_REASONS)}")
    if not is_date(body.get("decided_on")):
        raise ApiError(400, "decided_on is missing or not a YYYY-MM-DD date")
    disclosure_id = ctx.params[0]
    with state.lock:
        found = [d for d in state.store.disclosures if d.get("disclosure_id") == disclosure_id]
        if not found:
            raise ApiError(404, f"no disclosure {disclosure_id}", code="DISCLOSURE_NOT_FOUND")
        receipt = new_receipt(state)
        found[-1]["withdrawal"] = {**body, **receipt}
    return json_answer(201, receipt)


def _refuse_non_public(state: PlatformState, body: Mapping[str, Any], code: str) -> None:
    record_id = body.get("record_id")
    if isinstance(record_id, str):
        record = state.find_record(record_id)
        if record is not None and not record.get("public", True):
            raise ApiError(403, f"record {record_id} is not public and may not be disclosed")
        return
    list_kind = {"blacklist": "blacklist", "focus_list": "focus"}.get(str(body.get("kind")))
    if list_kind is None:
        return
    listed = [r for r in state.records_of(code) if r.get("list_kind") == list_kind]
    if listed and not any(r.get("public", True) for r in listed):
        raise ApiError(
            403, f"the subject's {list_kind} records are not public and may not be disclosed"
        )
