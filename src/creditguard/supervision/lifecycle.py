"""The lifecycle of a listed subject (notice 893 §§2–3, 8–13), each step checked, stored and shared.

::

    register(record) ─► order_rectification ─► confirm_rectification   (status: the platform's word)
                          └─ deadline passed ─► rectification.overdue ─► interview (once; 谁认定、谁约谈)
    make_commitment / report_breach · record_training · record_report · record_consulting
    name_responsible_person · repair_status ─► apply_repair ─► decide_repair

Every accepted step is one :class:`SupervisionEvent` written to the store and
enqueued in the outbox (the platform channel sends it, spec §10). A request
that breaks a rule raises :class:`RuleBroken` naming the rule, and records
nothing. Events change no record's status (spec §10): a confirmed
rectification shows as pending until the platform reports the record
``rectified``. Rules come from the pack in force for the record's region and
the event's day (:mod:`creditguard.supervision.packs`); with none,
:class:`NoRuleSetConfigured`.

How a step holds its listing, stores its event and queues it is
:mod:`creditguard.supervision.recorder`; what repair needs is
:mod:`creditguard.supervision.repair` (``RepairAssessment`` is re-exported here).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from creditguard.codes import parse_code
from creditguard.config import Config
from creditguard.errors import ConfigError, InputError
from creditguard.models import CreditRecord
from creditguard.supervision.errors import RuleBroken
from creditguard.supervision.events import SupervisionEvent
from creditguard.supervision.packs import LifecyclePack, repair_pack_for
from creditguard.supervision.recorder import EventRecorder, one_step_per_listing
from creditguard.supervision.repair import (
    RepairAssessment,
    assess_repair,
    court_route,
    training_hours,
)
from creditguard.supervision.store import Listing, SupervisionStore

__all__ = ["Lifecycle", "RepairAssessment", "supervision_store_path"]

_ROLES = frozenset({"legal_representative", "responsible_person", "related_person"})


def supervision_store_path(config: Config) -> str:
    """The store the configuration names: a SQLite file or a PostgreSQL DSN.

    ``[supervision] path`` (a file relative to the config file's folder, or a
    ``postgresql://`` DSN); without it, the PostgreSQL database of a
    ``postgresql://`` outbox (``[outbox] path``), else ``<data_dir>/supervision.db``.
    """
    from creditguard.case_desk import outbox_target
    from creditguard.journal_pg import is_dsn

    path = config.supervision.path
    if path is not None:
        return path if is_dsn(path) else str(config.path(path))
    outbox = outbox_target(config)
    return outbox if is_dsn(outbox) else str(config.data_dir / "supervision.db")


class Lifecycle(EventRecorder):
    """Runs the lifecycle for one acting unit (``unit_code``) over a store and an outbox."""

    @classmethod
    def from_config(cls, config: Config) -> Lifecycle:
        """The lifecycle of a configuration: its unit, store, outbox and ``[supervision]`` table."""
        from creditguard.case_desk import outbox_target
        from creditguard.outbox import open_outbox

        if not config.guard.unit_code:
            raise ConfigError("the supervision lifecycle needs [guard] unit_code (the acting unit)")
        return cls(
            SupervisionStore(supervision_store_path(config)),  # SQLite or PostgreSQL
            open_outbox(outbox_target(config)),
            unit_code=config.guard.unit_code,
            config=config.supervision,
        )

    # --- listings ---------------------------------------------------------------------

    def register(
        self, subject_code: str, record: CreditRecord, *, subject_kind: str | None = None
    ) -> Listing:
        """Put ``record`` (as the platform gave it) under supervision; its status is the platform's."""
        parsed = parse_code(subject_code)
        kind = subject_kind or parsed.kind
        self.store.put_listing(parsed.code, kind, record)
        if record.status in ("rectified", "repaired", "removed"):
            self.store.set_platform_status(
                record.record_id, record.status, self._clock().date().isoformat()
            )
        listing = self.store.listing(record.record_id)
        assert listing is not None
        return listing

    def note_platform_status(self, record_id: str, status: str, on: date) -> None:
        """The platform reported ``status`` for the record (a push, a lookup): the authority for status."""
        self._listing(record_id)
        self.store.set_platform_status(record_id, status, on.isoformat())

    # --- rectification (§2) -----------------------------------------------------------

    def deadline(self, record_id: str) -> date | None:
        """The rectification deadline: the last order's, else the record's ``rectify_by``."""
        orders = self._events(record_id, "rectification.ordered")
        if orders:
            return date.fromisoformat(str(orders[-1].data["deadline"]))
        return self._listing(record_id).record.rectify_by

    @one_step_per_listing
    def order_rectification(
        self,
        record_id: str,
        *,
        requirements: str,
        deadline: date,
        public: bool,
        at: datetime | None = None,
    ) -> SupervisionEvent:
        """限期整改: the identifying department sets requirements and a deadline (public or not)."""
        listing, when = self._listing(record_id), self._at(at)
        pack = self.pack(record_id, when.date())
        self._authority_only(
            listing, "rectification.by_identifying_department", pack.name, "a rectification order"
        )
        if not requirements.strip():
            raise InputError("requirements must say what to rectify")
        if deadline <= when.date():
            raise RuleBroken(
                "rectification.deadline_after_order",
                f"the deadline {deadline} must fall after the order's day {when.date()}",
                pack=pack.name,
            )
        if listing.platform_status in ("rectified", "repaired", "removed"):
            raise RuleBroken(
                "rectification.listed_only",
                f"the platform reports the record {listing.platform_status}",
                pack=pack.name,
            )
        if self._events(record_id, "rectification.ordered"):
            raise RuleBroken(
                "rectification.one_order",
                f"a rectification order for {record_id} already exists (deadline {self.deadline(record_id)})",
                pack=pack.name,
            )
        data = {"requirements": requirements, "deadline": deadline.isoformat(), "public": public}
        return self._emit(listing, "rectification.ordered", data, when)

    @one_step_per_listing
    def confirm_rectification(
        self, record_id: str, *, confirmed_on: date, at: datetime | None = None
    ) -> SupervisionEvent:
        """整改到位 confirmed by the identifying department; the record's status stays the platform's."""
        listing, when = self._listing(record_id), self._at(at)
        pack = self.pack(record_id, when.date())
        self._authority_only(
            listing, "rectification.by_identifying_department", pack.name, "a confirmation"
        )
        orders = self._events(record_id, "rectification.ordered")
        if not orders and listing.record.rectify_by is None:
            raise RuleBroken(
                "rectification.confirm_after_order", "no rectification was ordered", pack=pack.name
            )
        if confirmed_on > when.date():
            raise InputError(
                f"confirmed_on {confirmed_on} is after the day of recording {when.date()}"
            )
        if orders and confirmed_on < date.fromisoformat(str(orders[-1].at)[:10]):
            raise InputError(f"confirmed_on {confirmed_on} is before the order")
        if self._events(record_id, "rectification.confirmed"):
            raise RuleBroken(
                "rectification.confirm_once",
                "the rectification is already confirmed",
                pack=pack.name,
            )
        return self._emit(
            listing, "rectification.confirmed", {"confirmed_on": confirmed_on.isoformat()}, when
        )

    def _overdue_event(
        self, listing: Listing, day: date, when: datetime
    ) -> SupervisionEvent | None:
        rid = listing.record.record_id
        deadline = self.deadline(rid)
        if deadline is None or day <= deadline:
            return None
        if self._events(rid, "rectification.confirmed", "rectification.overdue"):
            return None
        if listing.platform_status in ("rectified", "repaired", "removed"):
            return None
        return self._emit(
            listing, "rectification.overdue", {"deadline": deadline.isoformat()}, when
        )

    def _overdue_now(self, listing: Listing, when: datetime) -> SupervisionEvent | None:
        fresh = self.store.listing(listing.record.record_id)  # as of the lock
        return None if fresh is None else self._overdue_event(fresh, when.date(), when)

    def mark_overdue(self, *, at: datetime | None = None) -> list[SupervisionEvent]:
        """Emit ``rectification.overdue`` once for every listing whose deadline passed unconfirmed.

        Listings of regions without a rule set for the day are skipped (and
        not reported as overdue): nobody adopted a rule to enforce there.
        """
        from creditguard.supervision.errors import NoRuleSetConfigured

        when = self._at(at)
        out = []
        for listing in self.store.listings():
            try:
                self.pack(listing.record.record_id, when.date())
            except NoRuleSetConfigured:
                continue
            ev = self._held(
                listing.record.record_id, functools.partial(self._overdue_now, listing, when)
            )
            if ev is not None:
                out.append(ev)
        return out

    # --- interviews (§3) --------------------------------------------------------------

    def _interview_checks(self, listing: Listing, kind: str, when: datetime) -> LifecyclePack:
        rid = listing.record.record_id
        pack = self.pack(rid, when.date())
        self._authority_only(
            listing, "interview.who_identifies_interviews", pack.name, "an interview"
        )
        wanted = pack.interview_kind.get(listing.record.list_kind)
        if kind != wanted:
            names = {"prompt": "提示性约谈", "warning": "警示性约谈"}
            raise RuleBroken(
                "interview.kind_by_list",
                f"a {listing.record.list_kind} subject gets a {wanted} interview ({names.get(str(wanted), '-')}), "
                f"not a {kind} one",
                pack=pack.name,
            )
        deadline = self.deadline(rid)
        if deadline is None:
            raise RuleBroken(
                "interview.after_missed_deadline",
                "no rectification deadline was set",
                pack=pack.name,
            )
        if when.date() <= deadline:
            raise RuleBroken(
                "interview.after_missed_deadline",
                f"the rectification deadline {deadline} has not passed on {when.date()}",
                pack=pack.name,
            )
        if self._events(rid, "rectification.confirmed") or listing.platform_status == "rectified":
            raise RuleBroken(
                "interview.after_missed_deadline",
                "the rectification was confirmed: no interview",
                pack=pack.name,
            )
        done = self._events(rid, "interview.held", "interview.refused")
        if len(done) >= pack.interviews_per_listing:
            raise RuleBroken(
                "interview.once_per_listing",
                f"listing {rid} already had its interview ({done[0].type} on {done[0].at[:10]})",
                pack=pack.name,
            )
        self._overdue_event(listing, when.date(), when)
        return pack

    def _person(
        self, listing: Listing, pack: LifecyclePack, person: Mapping[str, Any], rule: str
    ) -> dict[str, Any]:
        name = person.get("name")
        role = person.get("role")
        if not isinstance(name, str) or not name.strip():
            raise InputError("the attendee's name is required")
        allowed = {"self"} if listing.subject_kind == "person" else set(pack.principal_roles)
        if role not in allowed:
            raise RuleBroken(
                rule,
                f"the attendee must be the subject's principal responsible person (主要负责人; role "
                f"{' or '.join(sorted(allowed))}), not {role!r}",
                pack=pack.name,
            )
        out: dict[str, Any] = {"name": name.strip(), "role": role}
        code = person.get("code")
        if code:
            out["code"] = parse_code(str(code)).code
        return out

    @one_step_per_listing
    def hold_interview(
        self, record_id: str, *, kind: str, attendee: Mapping[str, Any], at: datetime | None = None
    ) -> SupervisionEvent:
        """提示性 / 警示性约谈 with the principal responsible person, once, after a missed deadline."""
        listing, when = self._listing(record_id), self._at(at)
        pack = self._interview_checks(listing, kind, when)
        person = self._person(listing, pack, attendee, "interview.principal_responsible_person")
        return self._emit(
            listing, "interview.held", {"interview_kind": kind, "attendee": person}, when
        )

    @one_step_per_listing
    def record_interview_refusal(
        self, record_id: str, *, kind: str, detail: str, at: datetime | None = None
    ) -> SupervisionEvent:
        """The subject refused the interview or did not cooperate: recorded as such (it is the one interview)."""
        listing, when = self._listing(record_id), self._at(at)
        self._interview_checks(listing, kind, when)
        if not detail.strip():
            raise InputError("detail must say how the subject refused or did not cooperate")
        return self._emit(
            listing, "interview.refused", {"interview_kind": kind, "detail": detail}, when
        )

    # --- commitments (§§9, 17), training (§10), reports (§11), consulting (§12) -------

    @one_step_per_listing
    def make_commitment(
        self, record_id: str, *, text: str, published_url: str, at: datetime | None = None
    ) -> SupervisionEvent:
        """A written credit commitment (信用承诺书) made public: its text's SHA-256, date and URL."""
        listing, when = self._listing(record_id), self._at(at)
        self.pack(record_id, when.date())
        if not text.strip():
            raise InputError("the commitment's text is required (its SHA-256 is recorded)")
        if re.match(r"^https?://\S+$", published_url) is None:
            raise InputError(
                f"published_url must be the http(s) address it was published at, got {published_url!r}"
            )
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return self._emit(
            listing,
            "commitment.made",
            {"text_sha256": digest, "published_url": published_url},
            when,
        )

    @one_step_per_listing
    def report_breach(
        self, record_id: str, *, commitment_event_id: str, detail: str, at: datetime | None = None
    ) -> SupervisionEvent:
        """The subject broke a commitment recorded here."""
        listing, when = self._listing(record_id), self._at(at)
        pack = self.pack(record_id, when.date())
        made = [e.event_id for e in self._events(record_id, "commitment.made")]
        if commitment_event_id not in made:
            raise RuleBroken(
                "commitment.breach_of_known_commitment",
                f"{commitment_event_id!r} is no commitment of listing {record_id}",
                pack=pack.name,
            )
        if not detail.strip():
            raise InputError("detail must say how the commitment was broken")
        data = {"commitment_event_id": commitment_event_id, "detail": detail}
        return self._emit(listing, "commitment.breached", data, when)

    def breaches(self, subject_code: str) -> list[SupervisionEvent]:
        """The subject's commitment breaches, oldest first (for the next check to see)."""
        code = parse_code(subject_code).code
        return [
            ev
            for ev, _, _ in self.store.events(subject_code=code)
            if ev.type == "commitment.breached"
        ]

    @one_step_per_listing
    def record_training(
        self,
        record_id: str,
        *,
        hours: float,
        organizer: str,
        attendee: Mapping[str, Any],
        at: datetime | None = None,
    ) -> SupervisionEvent:
        """信用修复培训 of the principal responsible person, in class hours (学时)."""
        listing, when = self._listing(record_id), self._at(at)
        pack = self.pack(record_id, when.date())
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24:
            raise InputError(
                f"hours must be class hours above 0 and at most 24 per session, got {hours!r}"
            )
        if not organizer.strip():
            raise InputError("the organizer is required")
        person = self._person(listing, pack, attendee, "training.principal_responsible_person")
        data = {"hours": float(hours), "organizer": organizer, "attendee": person}
        return self._emit(listing, "training.completed", data, when)

    def training_hours(self, record_id: str) -> float:
        """Class hours of repair training recorded for the listing."""
        return training_hours(self._events(record_id, "training.completed"))

    def record_report(
        self, record_id: str, *, agency_code: str, report_no: str, at: datetime | None = None
    ) -> SupervisionEvent:
        """A credit report by a qualified credit-service agency (an important reference, §11)."""
        listing, when = self._listing(record_id), self._at(at)
        self.pack(record_id, when.date())
        if not agency_code.strip() or not report_no.strip():
            raise InputError("agency_code and report_no are required")
        return self._emit(
            listing, "report.submitted", {"agency_code": agency_code, "report_no": report_no}, when
        )

    def record_consulting(
        self,
        record_id: str,
        *,
        topic: str,
        organizer: str,
        hours: float,
        at: datetime | None = None,
    ) -> SupervisionEvent:
        """信用管理咨询/辅导 given to the subject (§12)."""
        listing, when = self._listing(record_id), self._at(at)
        self.pack(record_id, when.date())
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24:
            raise InputError(f"hours must be above 0 and at most 24, got {hours!r}")
        if not topic.strip() or not organizer.strip():
            raise InputError("topic and organizer are required")
        data = {"topic": topic, "organizer": organizer, "hours": float(hours)}
        return self._emit(listing, "consulting.given", data, when)

    # --- responsible persons (§8) -----------------------------------------------------

    @one_step_per_listing
    def name_responsible_person(
        self, record_id: str, *, code: str, name: str, role: str, at: datetime | None = None
    ) -> SupervisionEvent:
        """Name a person held to account for an organisation's listing (the identifying department)."""
        listing, when = self._listing(record_id), self._at(at)
        pack = self.pack(record_id, when.date())
        self._authority_only(
            listing, "responsible_person.by_identifying_department", pack.name, "naming a person"
        )
        if listing.subject_kind != "organization":
            raise RuleBroken(
                "responsible_person.of_organisation",
                "only an organisation's listing names persons",
                pack=pack.name,
            )
        if role not in _ROLES:
            raise InputError(f"role must be one of {', '.join(sorted(_ROLES))}, got {role!r}")
        parsed = parse_code(code)
        person_code = parsed.code
        if parsed.kind != "person":
            raise InputError("the person's code must be a resident identity number")
        if not name.strip():
            raise InputError("the person's name is required")
        data = {"person": {"code": person_code, "name": name.strip(), "role": role}}
        return self._emit(listing, "responsible_person.named", data, when)

    def responsible_persons(self, record_id: str) -> list[dict[str, str]]:
        """Persons named for the listing: ``code``, ``name``, ``role``, oldest first."""
        return [dict(e.data["person"]) for e in self._events(record_id, "responsible_person.named")]

    # --- repair (§13) -----------------------------------------------------------------

    def repair_status(
        self, record_id: str, *, as_of: date, tier: str | None = None
    ) -> RepairAssessment:
        """May the subject apply for repair of this record on ``as_of``; what is missing; from when.

        The repair pack is the one in force on ``as_of`` (or the region's
        ``repair_rules``); publication periods count from the record's
        ``listed_on``. Court-enforcement records route to the court.
        """
        listing = self._listing(record_id)
        if listing.record.domain == "court_enforcement":
            return court_route(record_id, as_of)
        pack = repair_pack_for(self.config, self._region(listing.record), as_of)
        return assess_repair(listing, self._events(record_id), pack, as_of=as_of, tier=tier)

    @one_step_per_listing
    def apply_repair(
        self, record_id: str, *, tier: str | None = None, at: datetime | None = None
    ) -> SupervisionEvent:
        """信用修复 application: refused, naming what is missing, unless the rules in force allow it now."""
        listing, when = self._listing(record_id), self._at(at)
        a = self.repair_status(record_id, as_of=when.date(), tier=tier)
        if a.route == "court":
            raise RuleBroken("repair.court_route", a.missing[0], pack=a.rules or "")
        if a.may_apply is not True:
            reason = (
                "; ".join(a.missing) or "; ".join(a.notes) or "the rules in force leave it open"
            )
            rule = "repair.requirements" if a.missing else "repair.undecidable"
            raise RuleBroken(rule, f"may not apply on {a.as_of}: {reason}", pack=a.rules or "")
        if self._events(record_id, "repair.applied") and not self._events(
            record_id, "repair.refused"
        ):
            raise RuleBroken(
                "repair.one_open_application",
                "an application is already pending",
                pack=a.rules or "",
            )
        detail = "; ".join(a.notes) or "requirements met"
        return self._emit(listing, "repair.applied", {"rules": a.rules, "detail": detail}, when)

    @one_step_per_listing
    def decide_repair(
        self, record_id: str, *, granted: bool, detail: str, at: datetime | None = None
    ) -> SupervisionEvent:
        """The identifying department grants or refuses an application; the platform then changes the status."""
        listing, when = self._listing(record_id), self._at(at)
        applied = self._events(record_id, "repair.applied", "repair.granted", "repair.refused")
        if not applied or applied[-1].type != "repair.applied":
            raise RuleBroken(
                "repair.decide_after_application", "no pending repair application", pack=""
            )
        rules = str(applied[-1].data.get("rules", ""))
        self._authority_only(
            listing, "repair.by_identifying_department", rules, "a repair decision"
        )
        if not detail.strip():
            raise InputError("detail must give the decision's grounds")
        return self._emit(
            listing,
            "repair.granted" if granted else "repair.refused",
            {"rules": rules, "detail": detail},
            when,
        )
