"""Cases: initiate, respond, feed back (发起—响应—反馈, spec §6), as outbox items.

The item builders are pure: a :class:`~creditguard.models.Decision` (and what
the workflow did) in, :class:`~creditguard.outbox.OutboxItem` out, with
deterministic case ids and idempotency keys. :class:`CaseRecorder` writes
them to an outbox before returning, and routes feedback to a case the
platform initiated (a targeted push the unit accepted) when there is one.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from creditguard._files import prepare_private_file
from creditguard.clock import CST
from creditguard.errors import InputError, StorageError
from creditguard.models import CreditRecord, Decision
from creditguard.outbox import Outbox, OutboxItem, enqueue_in, idempotency_key

__all__ = [
    "ACTIONS",
    "ACTION_BY_EFFECT",
    "CaseBook",
    "CaseRecorder",
    "FeedbackEntry",
    "PlatformCase",
    "SqliteCaseBook",
    "case_id_for",
    "feedback_item",
    "initiation_item",
    "plan_feedback",
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


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, CST).isoformat(timespec="seconds")


def _body(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(
        "utf-8"
    )


def _case_path(case_id: str, tail: str) -> str:
    return f"/v1/cases/{quote(case_id, safe='')}/{tail}"


def case_id_for(unit_code: str, decision_id: str) -> str:
    """The unit-initiated case id for a decision: ``{unit_code}-{decision_id}`` (spec §6).

    Deterministic, so initiating twice for one decision is one case. A
    decision id with characters unfit for a URL is replaced by its hash.
    """
    part = (
        decision_id
        if _SAFE_ID.match(decision_id)
        else hashlib.sha256(decision_id.encode()).hexdigest()[:32]
    )
    return f"{unit_code}-{part}"


@dataclass(frozen=True, slots=True)
class FeedbackEntry:
    """What was done about one applied measure."""

    measure_code: str
    action: str
    detail: str = ""


def initiation_item(
    decision: Decision,
    *,
    unit_code: str,
    case_id: str,
    initiated_at: str,
    measure_codes: Collection[str] | None = None,
) -> OutboxItem:
    """The ``POST /v1/cases`` item (spec §6.1) for the records behind the decision's measures."""
    measures = [m for m in decision.measures if measure_codes is None or m.code in measure_codes]
    record_ids = sorted({rid for m in measures for rid in m.record_ids}) or sorted(
        {r.record.record_id for r in decision.records}
    )
    body = {
        "case_id": case_id,
        "subject_code": decision.subject_code,
        "record_ids": record_ids,
        "step": decision.step,
        "region": decision.region,
        "unit_code": unit_code,
        "initiated_at": initiated_at,
    }
    return OutboxItem(
        key=idempotency_key(unit_code, case_id, "case"),
        kind="case",
        path="/v1/cases",
        body=_body(body),
        group=case_id,
    )


def response_item(
    case_id: str,
    *,
    unit_code: str,
    accepted: Sequence[str],
    declined: Mapping[str, str],
    responded_at: str,
) -> OutboxItem:
    """The ``POST /v1/cases/{id}/responses`` item (spec §6.2)."""
    body = {
        "unit_code": unit_code,
        "accepted_measures": list(accepted),
        "declined_measures": [{"code": c, "reason": r} for c, r in declined.items()],
        "responded_at": responded_at,
    }
    return OutboxItem(
        key=idempotency_key(unit_code, case_id, "response"),
        kind="response",
        path=_case_path(case_id, "responses"),
        body=_body(body),
        group=case_id,
    )


def feedback_item(
    case_id: str,
    entry: FeedbackEntry,
    *,
    unit_code: str,
    step: str,
    workflow_ref: str | None,
    decided_at: str,
) -> OutboxItem:
    """The ``POST /v1/cases/{id}/feedback`` item (spec §6.3) for one measure."""
    body: dict[str, Any] = {
        "unit_code": unit_code,
        "measure_code": entry.measure_code,
        "step": step,
        "action": entry.action,
        "detail": entry.detail,
        "decided_at": decided_at,
    }
    if workflow_ref is not None:
        body["workflow_ref"] = workflow_ref
    return OutboxItem(
        key=idempotency_key(unit_code, case_id, "feedback", entry.measure_code),
        kind="feedback",
        path=_case_path(case_id, "feedback"),
        body=_body(body),
        group=case_id,
    )


def plan_feedback(
    decision: Decision,
    *,
    on: date,
    actions: Mapping[str, str | tuple[str, str]] | None = None,
    detail: str = "",
    current_records: Mapping[str, CreditRecord] | None = None,
) -> list[FeedbackEntry]:
    """One entry per applied measure: what the workflow did, or ``not_applied`` with the reason.

    ``actions`` maps a measure code to an action (or ``(action, detail)``)
    the integrator reports; measures not named get the action of their
    effect. A measure whose records all lost effect by ``on`` (the step's
    day), judged on ``current_records`` where given (fresher versions by
    record id) and else on the decision's records, yields ``not_applied``.
    """
    actions = actions or {}
    codes = {m.code for m in decision.measures}
    unknown = sorted(set(actions) - codes)
    if unknown:
        raise InputError(
            f"feedback names measures the decision did not apply: {', '.join(unknown)}"
        )
    known = {r.record.record_id: r.record for r in decision.records}
    if current_records:
        known.update(current_records)
    out: list[FeedbackEntry] = []
    for m in decision.measures:
        given = actions.get(m.code)
        if given is not None:
            action, text = (given, detail) if isinstance(given, str) else given
            if action not in ACTIONS:
                raise InputError(
                    f"feedback for {m.code}: unknown action {action!r} (one of {', '.join(sorted(ACTIONS))})"
                )
            if action == "not_applied" and not text:
                raise InputError(f"feedback for {m.code}: not_applied needs a detail saying why")
            out.append(FeedbackEntry(m.code, action, text))
            continue
        records = [known[rid] for rid in m.record_ids if rid in known]
        reasons = [r.why_no_effect(on) for r in records]
        if records and all(reasons):
            out.append(FeedbackEntry(m.code, "not_applied", "; ".join(r for r in reasons if r)))
        else:
            out.append(FeedbackEntry(m.code, ACTION_BY_EFFECT[m.effect], detail))
    return out


# --- platform-initiated cases ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlatformCase:
    """A case the platform pushed (``case.initiated``) and this unit accepted measures of."""

    case_id: str
    subject_code: str
    accepted: tuple[str, ...]
    region: str = ""


class CaseBook(Protocol):
    """Where open platform-initiated cases are kept until fed back."""

    def add(self, case: PlatformCase) -> None: ...

    def open_for(self, subject_code: str) -> list[PlatformCase]: ...

    def fed_back(self, case_id: str, measure_codes: Iterable[str]) -> None: ...


class SqliteCaseBook:
    """Open platform cases in SQLite, shared by the sync process and the workflow processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        prepare_private_file(self.path)  # owner-only: it holds personal data
        with self._tx() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS creditguard_platform_cases (case_id TEXT PRIMARY KEY, "
                "subject_code TEXT NOT NULL, accepted TEXT NOT NULL, region TEXT NOT NULL, "
                "pending TEXT NOT NULL, received_at REAL NOT NULL)"
            )
            c.execute(
                "CREATE INDEX IF NOT EXISTS creditguard_platform_cases_subject "
                "ON creditguard_platform_cases (subject_code)"
            )

    def _tx(self) -> _SqliteTx:
        return _SqliteTx(self.path, self._lock)

    def add(self, case: PlatformCase) -> None:
        """Keep ``case`` open until every accepted measure is fed back (re-adding is a no-op)."""
        with self._tx() as c:
            c.execute(
                "INSERT INTO creditguard_platform_cases VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (case_id) DO NOTHING",
                (
                    case.case_id,
                    case.subject_code,
                    json.dumps(case.accepted),
                    case.region,
                    json.dumps(case.accepted),
                    time.time(),
                ),
            )

    def open_for(self, subject_code: str) -> list[PlatformCase]:
        """Open cases of the subject, with the measures not fed back yet, oldest first."""
        with self._tx() as c:
            rows = c.execute(
                "SELECT case_id, subject_code, pending, region FROM creditguard_platform_cases "
                "WHERE subject_code = ? ORDER BY received_at",
                (subject_code,),
            ).fetchall()
        return [PlatformCase(r[0], r[1], tuple(json.loads(r[2])), r[3]) for r in rows]

    def fed_back(self, case_id: str, measure_codes: Iterable[str]) -> None:
        """Note feedback for ``measure_codes``; the case closes when none is left."""
        done = set(measure_codes)
        with self._tx() as c:
            row = c.execute(
                "SELECT pending FROM creditguard_platform_cases WHERE case_id = ?", (case_id,)
            ).fetchone()
            if row is None:
                return
            left = [m for m in json.loads(row[0]) if m not in done]
            if left:
                c.execute(
                    "UPDATE creditguard_platform_cases SET pending = ? WHERE case_id = ?",
                    (json.dumps(left), case_id),
                )
            else:
                c.execute("DELETE FROM creditguard_platform_cases WHERE case_id = ?", (case_id,))


class _SqliteTx:
    """A short immediate transaction on a fresh connection (simple and fork-safe)."""

    def __init__(self, path: Path, lock: threading.Lock) -> None:
        self._path = path
        self._lock = lock
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._conn = sqlite3.connect(self._path, isolation_level=None, timeout=10.0)
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._lock.release()
            raise StorageError(f"case book {self._path}: {exc}") from exc
        return self._conn

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        assert self._conn is not None
        try:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        except sqlite3.Error as err:
            raise StorageError(f"case book {self._path}: {err}") from err
        finally:
            self._conn.close()
            self._lock.release()


# --- the recorder ---------------------------------------------------------------------


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

    def _initiation(
        self, decision: Decision, routes: Mapping[str, str]
    ) -> tuple[str | None, list[OutboxItem]]:
        if not decision.measures:
            return None, []
        own = [m.code for m in decision.measures if m.code not in routes]
        if not own:
            return routes[decision.measures[0].code], []
        case_id = case_id_for(self.unit_code, decision.decision_id)
        item = initiation_item(
            decision,
            unit_code=self.unit_code,
            case_id=case_id,
            initiated_at=_iso(self._clock()),
            measure_codes=own,
        )
        return case_id, [item]

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
            items.append(
                feedback_item(
                    target,
                    entry,
                    unit_code=self.unit_code,
                    step=decision.step,
                    workflow_ref=workflow_ref,
                    decided_at=_iso(now),
                )
            )
            by_case.setdefault(target, []).append(entry.measure_code)
        self._write(items, connection)
        if self.book is not None:
            for target, codes in by_case.items():
                if target in routes.values():
                    self.book.fed_back(target, codes)
        return items[len(before) :]

    def respond(
        self,
        event: Mapping[str, Any],
        implemented: Collection[str],
        *,
        decline_reason: str = "本单位不实施该措施",
        connection: Any = None,
    ) -> OutboxItem:
        """Answer a ``case.initiated`` push (spec §6.2): accept what this unit implements, decline the rest."""
        case_id = str(event["case_id"])
        measures = [str(m) for m in event.get("measures", [])]
        accepted = [m for m in measures if m in implemented]
        declined = {m: decline_reason for m in measures if m not in implemented}
        item = response_item(
            case_id,
            unit_code=self.unit_code,
            accepted=accepted,
            declined=declined,
            responded_at=_iso(self._clock()),
        )
        self._write([item], connection)
        if self.book is not None and accepted:
            self.book.add(
                PlatformCase(
                    case_id,
                    str(event.get("subject_code", "")),
                    tuple(accepted),
                    str(event.get("region", "")),
                )
            )
        return item
