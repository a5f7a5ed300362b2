"""A subject's supervision history for people: every event, persons masked, pending status said."""

from __future__ import annotations

from typing import Any

from creditguard.codes import parse_code
from creditguard.masking import mask_code, mask_data, mask_name
from creditguard.supervision.store import SupervisionStore

__all__ = ["history"]


def _mask_person(person: dict[str, Any]) -> dict[str, Any]:
    out = dict(person)
    if isinstance(out.get("name"), str):
        out["name"] = mask_name(out["name"])
    if isinstance(out.get("code"), str):
        out["code"] = mask_code(out["code"], "person")
    return out


def history(store: SupervisionStore, subject_code: str, *, unmask: bool = False) -> dict[str, Any]:
    """The subject's events, oldest first, as JSON-ready data.

    Persons are masked (names keep the family name, resident numbers the
    first 6 and last 4 characters) unless ``unmask``. A confirmed
    rectification shows ``pending`` until the platform reports the record
    ``rectified`` (spec §10: events change no status by themselves).
    """
    parsed = parse_code(subject_code)
    person = parsed.kind == "person"
    rows = []
    statuses: dict[str, str | None] = {}
    for ev, region, day in store.events(subject_code=parsed.code):
        if ev.record_id not in statuses:
            listing = store.listing(ev.record_id)
            statuses[ev.record_id] = None if listing is None else listing.platform_status
        data = dict(ev.data)
        if not unmask:
            for key in ("attendee", "person"):
                if isinstance(data.get(key), dict):
                    data[key] = _mask_person(data[key])
            data = mask_data(data)
        row: dict[str, Any] = {
            "event_id": ev.event_id,
            "type": ev.type,
            "record_id": ev.record_id,
            "unit_code": ev.unit_code,
            "region": region,
            "day": day,
            "at": ev.at,
            "data": data,
        }
        if ev.type == "rectification.confirmed":
            row["platform_status"] = statuses[ev.record_id] or "pending"
        rows.append(row)
    code = parsed.code if unmask or not person else mask_code(parsed.code, "person")
    return {"subject_code": code, "subject_kind": parsed.kind, "events": rows}
