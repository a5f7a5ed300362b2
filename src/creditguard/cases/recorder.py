"""The case recorder: case facts written to the outbox before a call returns."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from creditguard.cases.book import CaseBook, PlatformCase
from creditguard.cases.facts import (
    ACTION_BY_EFFECT,
    CaseFeedback,
    CaseOpened,
    CaseResponse,
    case_id_for,
    case_id_for_application,
    fact_of,
    feedback_item,
    initiation_item,
    response_item,
)
from creditguard.cases.planning import FeedbackEntry, given_entry, plan_feedback
from creditguard.channels import PushEvent
from creditguard.clock import CST
from creditguard.errors import InputError
from creditguard.models import CreditRecord, Decision
from creditguard.outbox import CaseEntry, Outbox, OutboxItem, enqueue_in

__all__ = ["CaseRecorder", "OpenCase"]

log = logging.getLogger("creditguard.cases")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, CST).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class OpenCase:
    """A case this unit opened that has no feedback yet, as its first durable write froze it.

    ``opened_at`` is when the initiation was written (Unix seconds);
    ``measures`` are (code, effect) of the measures it applied (empty for a
    case written by creditguard 0.1, which did not keep them).
    """

    case_id: str
    unit_code: str
    subject_code: str
    step: str
    region: str
    workflow_ref: str | None
    measures: tuple[tuple[str, str], ...]
    record_ids: tuple[str, ...]
    decision_id: str
    opened_at: float
    delivered: bool

    @classmethod
    def of(cls, entry: CaseEntry) -> OpenCase:
        """The open case an outbox entry holds (:class:`InputError` when it holds no case fact)."""
        fact = fact_of(entry.item())
        if not isinstance(fact, CaseOpened):  # pragma: no cover - entries are kind 'case'
            raise InputError(f"outbox entry {entry.case_id} is not a case initiation")
        return cls(
            case_id=entry.case_id,
            unit_code=fact.unit_code,
            subject_code=fact.subject_code,
            step=fact.step,
            region=fact.region,
            workflow_ref=fact.workflow_ref,
            measures=tuple((str(c), str(e)) for c, e in fact.measures),
            record_ids=fact.record_ids,
            decision_id=fact.decision_id,
            opened_at=entry.created_at,
            delivered=entry.state == "delivered",
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready mapping (the subject code as stored: mask it before showing it)."""
        return {
            "case_id": self.case_id,
            "unit_code": self.unit_code,
            "subject_code": self.subject_code,
            "step": self.step,
            "region": self.region,
            "workflow_ref": self.workflow_ref,
            "measures": [{"code": c, "effect": e} for c, e in self.measures],
            "record_ids": list(self.record_ids),
            "decision_id": self.decision_id,
            "opened_at": self.opened_at,
            "delivered": self.delivered,
        }


def _superseded_detail(new_case_id: str, codes: Sequence[str]) -> str:
    now_applied = "、".join(codes) or "无"
    return f"同一业务再次核查时适用的措施已变化（现为 {now_applied}），本案例不再执行，另立案例 {new_case_id}"


def _fields(fact: CaseOpened) -> dict[str, Any]:
    return {name: getattr(fact, name) for name in CaseOpened.__dataclass_fields__}


class CaseRecorder:
    """Writes case initiations, responses and feedback to an outbox before returning.

    Pass ``connection`` (a ``sqlite3`` or ``psycopg`` connection to the
    outbox's database) to any method to write inside the integrator's own
    transaction instead. ``notify`` is called after each durable write (wire
    it to :meth:`DeliveryWorker.notify`); ``expect`` is given the keys written
    through a ``connection``, which become visible only with the caller's
    commit (wire it to :meth:`DeliveryWorker.expect`). ``book`` holds platform-initiated
    cases this unit accepted: feedback for their measures goes to them.
    """

    def __init__(
        self,
        outbox: Outbox,
        unit_code: str,
        *,
        book: CaseBook | None = None,
        notify: Callable[[], None] | None = None,
        expect: Callable[[Sequence[str]], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not unit_code:
            raise InputError("CaseRecorder needs this implementing unit's code ([guard] unit_code)")
        self.outbox = outbox
        self.unit_code = unit_code
        self.book = book
        self._notify = notify
        self._expect = expect
        self._clock = clock

    def _write(self, items: Sequence[OutboxItem], connection: Any) -> None:
        if not items:
            return
        if connection is not None:
            enqueue_in(connection, items)
            if self._expect is not None:
                # Not committed yet: the worker watches for the keys to appear.
                self._expect([i.key for i in items])
            return
        self.outbox.enqueue_many(items)
        if self._notify is not None:
            self._notify()

    def _platform_routes(self, decision: Decision) -> dict[str, PlatformCase]:
        """Measure code -> open platform case that accepted it, for this subject."""
        routes: dict[str, PlatformCase] = {}
        if self.book is None:
            return routes
        for case in self.book.open_for(decision.subject_code):
            for code in case.accepted:
                routes.setdefault(code, case)
        return routes

    def opening(
        self,
        decision: Decision,
        *,
        measure_codes: Collection[str] | None = None,
        workflow_ref: str | None = None,
        case_id: str | None = None,
    ) -> CaseOpened:
        """The fact that opens this unit's case for ``decision`` (its records behind the measures).

        The case id is ``case_id`` when given, else the decision's
        (:func:`case_id_for`).
        """
        measures = [
            m for m in decision.measures if measure_codes is None or m.code in measure_codes
        ]
        record_ids = sorted({rid for m in measures for rid in m.record_ids}) or sorted(
            {r.record.record_id for r in decision.records}
        )
        return CaseOpened(
            case_id=case_id or case_id_for(self.unit_code, decision.decision_id),
            unit_code=self.unit_code,
            subject_code=decision.subject_code,
            record_ids=tuple(record_ids),
            step=decision.step,
            region=decision.region,
            initiated_at=_iso(self._clock()),
            measures=tuple((m.code, m.effect) for m in measures),
            workflow_ref=workflow_ref,
            decision_id=decision.decision_id,
        )

    def _initiation(
        self,
        decision: Decision,
        routes: Mapping[str, PlatformCase],
        workflow_ref: str | None = None,
    ) -> tuple[str | None, list[OutboxItem]]:
        if not decision.measures:
            # Only a verified decision shows that no measure applies any more; one that
            # could not get the records says nothing about the open case.
            if workflow_ref is None or not decision.verified:
                return None, []
            return None, self._close_latest(decision, workflow_ref)
        own = [m.code for m in decision.measures if m.code not in routes]
        if not own:
            return routes[decision.measures[0].code].case_id, []
        if workflow_ref is not None:
            return self._application_case(decision, own, workflow_ref)
        fact = self.opening(decision, measure_codes=own)
        return fact.case_id, [initiation_item(fact)]

    def _generations(self, workflow_ref: str, step: str) -> list[CaseEntry]:
        """The cases opened so far for one application's step, first to latest."""
        out: list[CaseEntry] = []
        while True:
            cid = case_id_for_application(self.unit_code, workflow_ref, step, len(out) + 1)
            entry = self.outbox.case_entry(cid)
            if entry is None:
                return out
            out.append(entry)

    def _close_latest(self, decision: Decision, workflow_ref: str) -> list[OutboxItem]:
        """``not_applied`` for the application's open case: checked again, no measure applies now."""
        entries = self._generations(workflow_ref, decision.step)
        if not entries or entries[-1].feedback:
            return []
        latest = OpenCase.of(entries[-1])
        why = "同一业务再次核查时已无适用的措施（相关记录已修复、移出或失效），本案例不再执行"
        return self._case_feedback(
            latest, [FeedbackEntry(c, "not_applied", why) for c, _ in latest.measures]
        )

    def _application_case(
        self, decision: Decision, own: Sequence[str], workflow_ref: str
    ) -> tuple[str, list[OutboxItem]]:
        """The case of an application's step: the one already written when it still fits.

        Its key and body were frozen by its first durable write, so a retry (in
        any process) reuses it. When the subject or the applied measures
        changed, the latest case, if not fed back, is fed back ``not_applied``
        with the reason, and the next generation is opened.
        """
        fact = self.opening(decision, measure_codes=own, workflow_ref=workflow_ref, case_id="-")
        entries = self._generations(workflow_ref, decision.step)
        items: list[OutboxItem] = []
        if entries:
            latest = OpenCase.of(entries[-1])
            if (latest.subject_code, latest.region, sorted(latest.measures)) == (
                fact.subject_code,
                fact.region,
                sorted(fact.measures),
            ):
                return latest.case_id, []
        case_id = case_id_for_application(
            self.unit_code, workflow_ref, decision.step, len(entries) + 1
        )
        if entries and entries[-1].feedback == 0:
            latest = OpenCase.of(entries[-1])
            why = _superseded_detail(case_id, [c for c, _ in fact.measures])
            entries_out = [FeedbackEntry(c, "not_applied", why) for c, _ in latest.measures]
            items += self._case_feedback(latest, entries_out)
        opened = CaseOpened(**{**_fields(fact), "case_id": case_id})
        items.append(initiation_item(opened))
        return case_id, items

    def initiate(
        self, decision: Decision, *, workflow_ref: str | None = None, connection: Any = None
    ) -> str | None:
        """Open the case for a decision that applied measures; its id, or None when none applied.

        When a platform case for the subject already covers every applied
        measure, no case is initiated and that case's id is returned. With
        ``workflow_ref`` (the integrator's application reference) the case is
        the application's for this step (:func:`case_id_for_application`):
        initiating again, in any process, returns the case already written
        unless the subject or the measures changed.
        """
        case_id, items = self._initiation(decision, self._platform_routes(decision), workflow_ref)
        self._write(items, connection)
        return case_id

    def feedback(
        self,
        case_id: str,
        decision: Decision,
        *,
        actions: Mapping[str, str | tuple[str, str]] | None = None,
        detail: str = "",
        workflow_ref: str | None = None,
        on: date | None = None,
        current_records: Mapping[str, CreditRecord] | None = None,
        connection: Any = None,
    ) -> list[OutboxItem]:
        """Feed back one entry per applied measure (see :func:`plan_feedback`); returns the items."""
        return self._feedback(
            case_id,
            decision,
            self._platform_routes(decision),
            [],
            actions,
            detail,
            workflow_ref,
            on,
            current_records,
            connection,
        )

    def record_step(
        self,
        decision: Decision,
        *,
        actions: Mapping[str, str | tuple[str, str]] | None = None,
        detail: str = "",
        workflow_ref: str | None = None,
        on: date | None = None,
        current_records: Mapping[str, CreditRecord] | None = None,
        connection: Any = None,
    ) -> str | None:
        """Initiate and feed back in one durable write (for steps reported after the fact)."""
        routes = self._platform_routes(decision)
        case_id, items = self._initiation(decision, routes, workflow_ref)
        if case_id is None:
            self._write(items, connection)
            return None
        self._feedback(
            case_id,
            decision,
            routes,
            items,
            actions,
            detail,
            workflow_ref,
            on,
            current_records,
            connection,
        )
        return case_id

    def _feedback(
        self,
        case_id: str,
        decision: Decision,
        routes: Mapping[str, PlatformCase],
        before: list[OutboxItem],
        actions: Mapping[str, str | tuple[str, str]] | None,
        detail: str,
        workflow_ref: str | None,
        on: date | None,
        current_records: Mapping[str, CreditRecord] | None,
        connection: Any,
    ) -> list[OutboxItem]:
        now = self._clock()
        day = on or datetime.fromtimestamp(now, CST).date()
        entries = plan_feedback(
            decision, on=day, actions=actions, detail=detail, current_records=current_records
        )
        items = list(before)
        by_case: dict[str, list[str]] = {}
        for entry in entries:
            route = routes.get(entry.measure_code)
            target = case_id if route is None else route.case_id
            fact = CaseFeedback(
                case_id=target,
                unit_code=self.unit_code,
                measure_code=entry.measure_code,
                step=decision.step,
                action=entry.action,
                detail=entry.detail,
                decided_at=_iso(now),
                workflow_ref=workflow_ref,
                # Kept with the feedback: a platform case leaves the book once fed back,
                # and the report attributes feedback by it (its own region, else the step's).
                region=(route.region if route is not None else "") or decision.region,
            )
            items.append(feedback_item(fact))
            by_case.setdefault(target, []).append(entry.measure_code)
        self._write(items, connection)
        if self.book is not None:
            for target, codes in by_case.items():
                if any(r.case_id == target for r in routes.values()):
                    self.book.fed_back(target, codes)
        return items[len(before) :]

    def _case_feedback(self, case: OpenCase, entries: Sequence[FeedbackEntry]) -> list[OutboxItem]:
        now = _iso(self._clock())
        return [
            feedback_item(
                CaseFeedback(
                    case_id=case.case_id,
                    unit_code=self.unit_code,
                    measure_code=e.measure_code,
                    step=case.step,
                    action=e.action,
                    detail=e.detail,
                    decided_at=now,
                    workflow_ref=case.workflow_ref,
                    region=case.region,
                )
            )
            for e in entries
        ]

    def open_cases(
        self,
        *,
        application: str | None = None,
        step: str | None = None,
        opened_before: float | None = None,
        limit: int = 1000,
    ) -> list[OpenCase]:
        """Cases of this outbox with no feedback yet, oldest first.

        ``application`` and ``step`` narrow them to one application (and
        step); ``opened_before`` (Unix seconds) to those opened before then,
        which is how overdue feedback is found.
        """
        if application is not None and step is not None and opened_before is None:
            entries = self._generations(application, step)
            found = [OpenCase.of(e) for e in entries if e.feedback == 0]
            return found[:limit]
        cutoff = math.inf if opened_before is None else opened_before
        out: list[OpenCase] = []
        # Unfed cases are few in a healthy outbox; an application's are picked by reading them.
        for entry in self.outbox.unfed_cases(opened_before=cutoff, limit=100_000):
            try:
                case = OpenCase.of(entry)
            except InputError as exc:  # written by creditguard 0.1: counted, not resumable here
                log.warning("open case %s cannot be read: %s", entry.case_id, exc)
                continue
            if application is not None and case.workflow_ref != application:
                continue
            if step is not None and case.step != step:
                continue
            out.append(case)
            if len(out) >= limit:
                break
        return out

    def feed_back_case(
        self,
        case: OpenCase,
        *,
        actions: Mapping[str, str | tuple[str, str]] | None = None,
        detail: str = "",
        connection: Any = None,
    ) -> list[OutboxItem]:
        """Feed back an open case from what its initiation froze (resuming after a crash).

        Each measure gets the action of its effect unless ``actions`` names
        another (``{"S-01": ("not_applied", "why")}``). Keys are the case's
        and measure's, so feedback already written by the crashed process wins.
        """
        if not case.measures:
            raise InputError(
                f"case {case.case_id} was opened by an older creditguard that did not keep its "
                "measures: feed it back with guard.feedback(decision)"
            )
        actions = actions or {}
        codes = {c for c, _ in case.measures}
        unknown = sorted(set(actions) - codes)
        if unknown:
            raise InputError(
                f"feedback names measures case {case.case_id} did not apply: {', '.join(unknown)}"
            )
        entries = [
            given_entry(code, actions[code], detail)
            if code in actions
            else FeedbackEntry(code, ACTION_BY_EFFECT[effect], detail)
            for code, effect in case.measures
        ]
        items = self._case_feedback(case, entries)
        self._write(items, connection)
        return items

    def respond(
        self,
        event: PushEvent,
        implemented: Collection[str],
        *,
        decline_reason: str = "本单位不实施该措施",
        connection: Any = None,
    ) -> OutboxItem:
        """Answer a ``case.initiated`` push: accept what this unit implements, decline the rest."""
        if not event.case_id:
            raise InputError(f"push event {event.event_id}: case.initiated without a case id")
        accepted = tuple(m for m in event.measures if m in implemented)
        declined = tuple((m, decline_reason) for m in event.measures if m not in implemented)
        fact = CaseResponse(
            case_id=event.case_id,
            unit_code=self.unit_code,
            accepted=accepted,
            declined=declined,
            responded_at=_iso(self._clock()),
            region=event.region,
        )
        item = response_item(fact)
        self._write([item], connection)
        if self.book is not None and accepted:
            self.book.add(PlatformCase(event.case_id, event.subject_code, accepted, event.region))
        return item
