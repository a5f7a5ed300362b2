"""The case recorder: case facts written to the outbox before a call returns."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from creditguard.cases.book import CaseBook, PlatformCase
from creditguard.cases.facts import (
    CaseFeedback,
    CaseOpened,
    CaseResponse,
    case_id_for,
    feedback_item,
    initiation_item,
    response_item,
)
from creditguard.cases.planning import plan_feedback
from creditguard.channels import PushEvent
from creditguard.clock import CST
from creditguard.errors import InputError
from creditguard.models import CreditRecord, Decision
from creditguard.outbox import Outbox, OutboxItem, enqueue_in

__all__ = ["CaseRecorder"]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, CST).isoformat(timespec="seconds")


class CaseRecorder:
    """Writes case initiations, responses and feedback to an outbox before returning.

    Pass ``connection`` (a ``sqlite3`` or ``psycopg`` connection to the
    outbox's database) to any method to write inside the integrator's own
    transaction instead. ``notify`` is called after each durable write (wire
    it to :meth:`DeliveryWorker.notify`). ``book`` holds platform-initiated
    cases this unit accepted: feedback for their measures goes to them.
    """

    def __init__(
        self,
        outbox: Outbox,
        unit_code: str,
        *,
        book: CaseBook | None = None,
        notify: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not unit_code:
            raise InputError("CaseRecorder needs this implementing unit's code ([guard] unit_code)")
        self.outbox = outbox
        self.unit_code = unit_code
        self.book = book
        self._notify = notify
        self._clock = clock

    def _write(self, items: Sequence[OutboxItem], connection: Any) -> None:
        if not items:
            return
        if connection is not None:
            enqueue_in(connection, items)
            return
        self.outbox.enqueue_many(items)
        if self._notify is not None:
            self._notify()

    def _platform_routes(self, decision: Decision) -> dict[str, str]:
        """Measure code -> open platform case id that accepted it, for this subject."""
        routes: dict[str, str] = {}
        if self.book is None:
            return routes
        for case in self.book.open_for(decision.subject_code):
            for code in case.accepted:
                routes.setdefault(code, case.case_id)
        return routes

    def opening(
        self, decision: Decision, *, measure_codes: Collection[str] | None = None
    ) -> CaseOpened:
        """The fact that opens this unit's case for ``decision`` (its records behind the measures)."""
        measures = [
            m for m in decision.measures if measure_codes is None or m.code in measure_codes
        ]
        record_ids = sorted({rid for m in measures for rid in m.record_ids}) or sorted(
            {r.record.record_id for r in decision.records}
        )
        return CaseOpened(
            case_id=case_id_for(self.unit_code, decision.decision_id),
            unit_code=self.unit_code,
            subject_code=decision.subject_code,
            record_ids=tuple(record_ids),
            step=decision.step,
            region=decision.region,
            initiated_at=_iso(self._clock()),
        )

    def _initiation(
        self, decision: Decision, routes: Mapping[str, str]
    ) -> tuple[str | None, list[OutboxItem]]:
        if not decision.measures:
            return None, []
        own = [m.code for m in decision.measures if m.code not in routes]
        if not own:
            return routes[decision.measures[0].code], []
        fact = self.opening(decision, measure_codes=own)
        return fact.case_id, [initiation_item(fact)]

    def initiate(self, decision: Decision, *, connection: Any = None) -> str | None:
        """Open the case for a decision that applied measures; its id, or None when none applied.

        When a platform case for the subject already covers every applied
        measure, no case is initiated and that case's id is returned.
        """
        case_id, items = self._initiation(decision, self._platform_routes(decision))
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
        case_id, items = self._initiation(decision, routes)
        if case_id is None:
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
        routes: Mapping[str, str],
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
            target = routes.get(entry.measure_code, case_id)
            fact = CaseFeedback(
                case_id=target,
                unit_code=self.unit_code,
                measure_code=entry.measure_code,
                step=decision.step,
                action=entry.action,
                detail=entry.detail,
                decided_at=_iso(now),
                workflow_ref=workflow_ref,
            )
            items.append(feedback_item(fact))
            by_case.setdefault(target, []).append(entry.measure_code)
        self._write(items, connection)
        if self.book is not None:
            for target, codes in by_case.items():
                if target in routes.values():
                    self.book.fed_back(target, codes)
        return items[len(before) :]

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
        )
        item = response_item(fact)
        self._write([item], connection)
        if self.book is not None and accepted:
            self.book.add(PlatformCase(event.case_id, event.subject_code, accepted, event.region))
        return item
