"""Disclosures (失信信息公示, notice 893 §4; spec §11): deadlines, masking, withdrawal, overdue.

A disclosure is published by the N-th working day after the decision (7 for
administrative penalties by default, per kind or channel in
``[supervision] disclosure_days``; FACTS §3), for an explicit period, and
masked first: resident numbers keep their first 6 and last 4 characters,
persons' names keep the family name, fields marked as trade secrets are
removed; what was masked is recorded. A record that is not public is never
disclosed. A changed or revoked penalty is withdrawn within 3 working days.
Both travel through the outbox (one group per disclosure, so the withdrawal
follows the publication).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from creditguard.calendar import WorkdayCalendar, default_calendar
from creditguard.clock import today_cst
from creditguard.codes import parse_code
from creditguard.config import SupervisionConfig
from creditguard.errors import InputError, StorageError
from creditguard.masking import mask_name, mask_number, mask_text
from creditguard.outbox import Outbox, OutboxItem, encode_payload, idempotency_key
from creditguard.supervision.errors import RuleBroken
from creditguard.supervision.store import StoredDisclosure, SupervisionStore

__all__ = [
    "DISCLOSURE_KINDS",
    "WITHDRAWAL_REASONS",
    "DisclosureDesk",
    "OverdueDisclosure",
    "disclosure_request_of",
]

#: Kinds of spec §11.1.
DISCLOSURE_KINDS = frozenset(
    {"administrative_penalty", "blacklist", "focus_list", "inspection", "judgment"}
)
#: Reasons of spec §11.2.
WITHDRAWAL_REASONS = frozenset(
    {"penalty_revoked", "penalty_changed", "repaired", "expired", "other"}
)
_DEFAULT_DAYS = 7


@dataclass(frozen=True, slots=True)
class OverdueDisclosure:
    """A disclosure or withdrawal past its deadline and not delivered by then (or prepared late)."""

    disclosure_id: str
    what: str  # "publication" or "withdrawal"
    deadline: date
    why: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready mapping."""
        return {
            "disclosure_id": self.disclosure_id,
            "what": self.what,
            "deadline": self.deadline.isoformat(),
            "why": self.why,
        }


def _item(disclosure_id: str, unit_code: str, payload: Mapping[str, Any], part: str) -> OutboxItem:
    return OutboxItem(
        key=idempotency_key(unit_code, disclosure_id, "disclosure", part),
        kind="disclosure",
        payload=encode_payload(payload),
        group=f"disclosure:{disclosure_id}",
    )


def disclosure_request_of(item: OutboxItem) -> tuple[str, Mapping[str, Any], bool]:
    """(disclosure id, spec body, is a withdrawal) of a disclosure item; :class:`InputError` otherwise."""
    if item.kind != "disclosure":
        raise InputError(f"outbox item {item.key[:12]}: kind {item.kind!r} is not a disclosure")
    data = item.data()
    if "withdrawal" in data and isinstance(data["withdrawal"], dict):
        return str(data["disclosure_id"]), data["withdrawal"], True
    if "disclosure" in data and isinstance(data["disclosure"], dict):
        return str(data["disclosure"]["disclosure_id"]), data["disclosure"], False
    raise InputError(f"outbox item {item.key[:12]} holds no readable disclosure")


class DisclosureDesk:
    """Prepares, withdraws and watches disclosures for one unit."""

    def __init__(
        self,
        store: SupervisionStore,
        outbox: Outbox,
        *,
        unit_code: str,
        config: SupervisionConfig | None = None,
        calendar: WorkdayCalendar | None = None,
        today: Callable[[], date] = today_cst,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.unit_code = unit_code
        self.config = config if config is not None else SupervisionConfig()
        self.calendar = (
            calendar if calendar is not None else default_calendar(self.config.holidays_dir)
        )
        self._today = today

    def days_for(self, kind: str, channel: str | None = None) -> int:
        """Working days to publish a ``kind`` disclosure on ``channel``: channel, then kind, else 7."""
        days = self.config.disclosure_days
        if channel is not None and channel in days:
            return days[channel]
        return days.get(kind, _DEFAULT_DAYS)

    def prepare(
        self,
        *,
        disclosure_id: str,
        kind: str,
        subject: Mapping[str, str],
        decision_no: str,
        decided_on: date,
        authority: Mapping[str, str],
        content: str,
        publish_until: date,
        public: bool = True,
        record_id: str | None = None,
        person_names: Sequence[str] = (),
        fields: Mapping[str, str] | None = None,
        trade_secrets: Sequence[str] = (),
        channel: str | None = None,
        region: str = "",
    ) -> StoredDisclosure:
        """Mask, date and enqueue one disclosure (spec §11.1); refused with nothing stored when a rule is broken.

        ``publish_by`` is the deadline's working day (:class:`CalendarNotCovered`
        when the year is not covered). ``fields`` are extra published fields;
        those named in ``trade_secrets`` are removed. ``person_names`` are
        names to mask wherever they appear in ``content``.
        """
        if not public:
            raise RuleBroken(
                "disclosure.public_only", "the record may not be disclosed (依法不能公开)"
            )
        if kind not in DISCLOSURE_KINDS:
            raise InputError(
                f"kind must be one of {', '.join(sorted(DISCLOSURE_KINDS))}, got {kind!r}"
            )
        if not disclosure_id.strip() or not decision_no.strip() or not content.strip():
            raise InputError("disclosure_id, decision_no and content are required")
        if not authority.get("code"):
            raise InputError("authority.code is required")
        if publish_until <= decided_on:
            raise InputError(
                f"publish_until {publish_until} must be after the decision {decided_on}"
            )
        if self.store.disclosures(disclosure_id):
            raise InputError(f"disclosure {disclosure_id!r} already exists")
        unknown = sorted(set(trade_secrets) - set(fields or {}))
        if unknown:
            raise InputError(f"trade_secrets name no field: {', '.join(unknown)}")
        publish_by = self.calendar.add_workdays(decided_on, self.days_for(kind, channel))
        parsed = parse_code(str(subject.get("code", "")))
        masked_fields: list[str] = []
        log: list[dict[str, str]] = []
        out_subject: dict[str, Any] = {"code": parsed.code}
        if parsed.kind == "person":
            out_subject["code"] = mask_number(parsed.code)
            masked_fields.append("subject.code")
            log.append({"field": "subject.code", "how": "resident number: first 6 and last 4 kept"})
        names = [n for n in person_names if n]
        name = subject.get("name")
        if name:
            if parsed.kind == "person":
                out_subject["name"] = mask_name(name)
                masked_fields.append("subject.name")
                log.append({"field": "subject.name", "how": "person's name: family name kept"})
                names.append(name)
            else:
                out_subject["name"] = name
        rep = subject.get("legal_representative")
        if rep:
            out_subject["legal_representative"] = mask_name(rep)
            masked_fields.append("subject.legal_representative")
            log.append(
                {"field": "subject.legal_representative", "how": "person's name: family name kept"}
            )
            names.append(rep)
        text = mask_text(content)
        for n in sorted(set(names), key=len, reverse=True):
            text = text.replace(n, mask_name(n) or "")
        if text != content:
            masked_fields.append("content")
            log.append({"field": "content", "how": "resident numbers and persons' names masked"})
        body: dict[str, Any] = {
            "disclosure_id": disclosure_id,
            "kind": kind,
            "subject": out_subject,
            "decision_no": decision_no,
            "decided_on": decided_on.isoformat(),
            "publish_by": publish_by.isoformat(),
            "publish_until": publish_until.isoformat(),
            "authority": {"code": authority["code"], "name": authority.get("name", "")},
            "content": text,
            "masked_fields": masked_fields,
        }
        if record_id is not None:
            body["record_id"] = record_id
        if fields:
            kept = {}
            for key, value in fields.items():
                if key in trade_secrets:
                    log.append(
                        {"field": f"fields.{key}", "how": "removed: trade secret (商业秘密)"}
                    )
                    continue
                kept[key] = mask_text(value)
            body["fields"] = kept
        item = _item(disclosure_id, self.unit_code, {"disclosure": body}, "publish")
        stored = StoredDisclosure(
            disclosure_id=disclosure_id,
            kind=kind,
            subject_code=parsed.code,
            region=region,
            decided_on=decided_on.isoformat(),
            prepared_on=self._today().isoformat(),
            publish_by=publish_by.isoformat(),
            body={"request": body, "mask_log": log, "channel": channel},
            outbox_key=item.key,
        )
        self.store.add_disclosure(stored)
        try:
            self.outbox.enqueue(item)
        except Exception as exc:
            self.store.remove_disclosure(disclosure_id)
            raise StorageError(
                f"the outbox could not take disclosure {disclosure_id}: {exc}"
            ) from exc
        return stored

    def withdraw(
        self, disclosure_id: str, *, reason: str, decided_on: date, detail: str = ""
    ) -> StoredDisclosure:
        """Withdraw a publication (spec §11.2), due within ``withdrawal_days`` working days of ``decided_on``."""
        found = self.store.disclosures(disclosure_id)
        if not found:
            raise InputError(f"no disclosure {disclosure_id!r}")
        d = found[0]
        if d.withdrawal is not None:
            raise RuleBroken(
                "disclosure.withdraw_once", f"{disclosure_id} was withdrawn on {d.withdrawn_on}"
            )
        if reason not in WITHDRAWAL_REASONS:
            raise InputError(
                f"reason must be one of {', '.join(sorted(WITHDRAWAL_REASONS))}, got {reason!r}"
            )
        if decided_on < date.fromisoformat(d.decided_on):
            raise InputError(
                f"decided_on {decided_on} is before the disclosed decision {d.decided_on}"
            )
        withdraw_by = self.calendar.add_workdays(decided_on, self.config.withdrawal_days)
        body = {"reason": reason, "decided_on": decided_on.isoformat(), "detail": detail}
        item = _item(
            disclosure_id,
            self.unit_code,
            {"disclosure_id": disclosure_id, "withdrawal": body},
            "withdraw",
        )
        today = self._today().isoformat()
        self.store.set_withdrawal(
            disclosure_id,
            body,
            withdraw_by=withdraw_by.isoformat(),
            withdrawn_on=today,
            key=item.key,
        )
        try:
            self.outbox.enqueue(item)
        except Exception as exc:
            self.store.set_withdrawal(
                disclosure_id, None, withdraw_by=None, withdrawn_on=None, key=None
            )
            raise StorageError(
                f"the outbox could not take the withdrawal of {disclosure_id}: {exc}"
            ) from exc
        return self.store.disclosures(disclosure_id)[0]

    def _delivered(self) -> set[str]:
        return {info.key for info in self.outbox.items("delivered", limit=1_000_000)}

    def overdue(self, *, as_of: date | None = None) -> list[OverdueDisclosure]:
        """Publications and withdrawals not delivered by their deadline, or prepared after it."""
        day = self._today() if as_of is None else as_of
        delivered = self._delivered()
        out = []
        for d in self.store.disclosures():
            checks = [("publication", d.publish_by, d.prepared_on, d.outbox_key)]
            if d.withdraw_by and d.withdrawn_on and d.withdrawal_key:
                checks.append(("withdrawal", d.withdraw_by, d.withdrawn_on, d.withdrawal_key))
            for what, due, prepared, key in checks:
                deadline = date.fromisoformat(due)
                if prepared > due:
                    out.append(
                        OverdueDisclosure(
                            d.disclosure_id,
                            what,
                            deadline,
                            f"prepared on {prepared}, after the deadline",
                        )
                    )
                elif day > deadline and key not in delivered:
                    out.append(
                        OverdueDisclosure(
                            d.disclosure_id,
                            what,
                            deadline,
                            "not delivered to the platform by the deadline",
                        )
                    )
        return out
