"""Supervision events over HTTP: register, rectification, interview, commitment, training, report, repair.

Each unit acts through its own :class:`~creditguard.supervision.Lifecycle`
(its store under its ``data_dir``, its outbox, its ``[supervision]`` rules),
so the rules are the library's: a request that breaks one is answered 409
``RULE_BROKEN`` with the rule's name in ``error.rule`` and records nothing.
A unit may act only on listings of the regions configured for it (else 403,
logged and counted like every refusal). One lock per unit runs its lifecycle
steps one at a time, so two concurrent requests cannot both pass a
"once per listing" rule.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from creditguard.clock import CST
from creditguard.errors import CreditGuardError
from creditguard.masking import mask_code, mask_data
from creditguard.models import CreditRecord
from creditguard.server.errors import ApiError, library_error
from creditguard.server.gate import principal_of, refuse
from creditguard.server.schemas import ErrorBody
from creditguard.server.service import Service, UnitRuntime
from creditguard.supervision import (
    Lifecycle,
    NoRuleSetConfigured,
    RuleBroken,
    SupervisionEvent,
    UnknownListing,
)

__all__ = ["add_supervision_routes"]

T = TypeVar("T")

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "bad input (named in the message)"},
    401: {"model": ErrorBody, "description": "no, or wrong, credentials"},
    403: {"model": ErrorBody, "description": "the listing is outside this unit's regions"},
    404: {"model": ErrorBody, "description": "no such listing under supervision"},
    409: {"model": ErrorBody, "description": "refused by a lifecycle rule (error.rule names it)"},
    422: {"model": ErrorBody, "description": "no rule set configured for the region and day"},
    "default": {"model": ErrorBody, "description": "any other error, same shape"},
}

_RECORD_ID = Field(min_length=1, max_length=128, description="the listed record's id (spec §4)")
_AT = Field(default=None, description="when it happened, with a UTC offset (default now)")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterRequest(_In):
    """Put a record, as the platform gave it, under supervision."""

    subject_code: str = Field(min_length=1, max_length=64)
    record: dict[str, Any] = Field(
        description="the credit record (spec §4), as the platform gave it"
    )


class OrderRequest(_In):
    """限期整改: requirements and a deadline, by the identifying department."""

    record_id: str = _RECORD_ID
    requirements: str = Field(min_length=1, max_length=4000)
    deadline: date
    public: bool = True
    at: datetime | None = _AT


class ConfirmRequest(_In):
    """整改到位 confirmed by the identifying department."""

    record_id: str = _RECORD_ID
    confirmed_on: date
    at: datetime | None = _AT


class Attendee(_In):
    """The principal responsible person who attended (or trained)."""

    name: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=64, description="e.g. legal_representative")
    code: str | None = Field(default=None, max_length=64, description="their ID number (masked)")


class InterviewRequest(_In):
    """提示性 (prompt) / 警示性 (warning) interview, or the subject's refusal of it."""

    record_id: str = _RECORD_ID
    kind: Literal["prompt", "warning"]
    attendee: Attendee | None = Field(default=None, description="required unless refused")
    refused_detail: str | None = Field(
        default=None, max_length=2000, description="set when the subject refused or did not come"
    )
    at: datetime | None = _AT


class CommitmentRequest(_In):
    """A written credit commitment made public."""

    record_id: str = _RECORD_ID
    text: str = Field(min_length=1, max_length=20000)
    published_url: str = Field(min_length=1, max_length=2000)
    at: datetime | None = _AT


class TrainingRequest(_In):
    """Repair training of the principal responsible person, in class hours."""

    record_id: str = _RECORD_ID
    hours: float = Field(gt=0, le=24)
    organizer: str = Field(min_length=1, max_length=200)
    attendee: Attendee
    at: datetime | None = _AT


class ReportRequest(_In):
    """A credit report by a qualified credit-service agency."""

    record_id: str = _RECORD_ID
    agency_code: str = Field(min_length=1, max_length=64)
    report_no: str = Field(min_length=1, max_length=128)
    at: datetime | None = _AT


class ListingResponse(_In):
    """A listing under supervision."""

    record_id: str
    subject: str = Field(description="the subject's code, a resident ID number masked")
    list_kind: str
    region: str


class EventResponse(_In):
    """The event recorded and queued for the platform (spec §10)."""

    event_id: str
    type: str
    record_id: str
    unit_code: str
    at: str
    data: dict[str, Any] = Field(description="the event's data, persons' numbers masked")


class RepairCheckResponse(_In):
    """May the subject apply for repair now; ``may_apply: null`` means the rules leave it open."""

    record_id: str
    as_of: date
    rules: str | None
    may_apply: bool | None
    missing: list[str]
    from_date: date | None
    route: str
    notes: list[str]


def _event(e: SupervisionEvent) -> EventResponse:
    return EventResponse(
        event_id=e.event_id,
        type=e.type,
        record_id=e.record_id,
        unit_code=e.unit_code,
        at=e.at,
        data=mask_data(dict(e.data)),
    )


class _Desks:
    """Each unit's lifecycle, opened on first use, and the lock its steps run under."""

    def __init__(self, service: Service) -> None:
        self._service = service
        self._lifecycles: dict[str, Lifecycle] = {}
        self._locks = {code: threading.Lock() for code in service.units}
        self._open = threading.Lock()

    def run(self, unit: UnitRuntime, step: Callable[[Lifecycle], T]) -> T:
        code = unit.config.code
        with self._open:
            lc = self._lifecycles.get(code)
            if lc is None:
                lc = self._lifecycles[code] = Lifecycle.from_config(unit.guard.config)
        with self._locks[code]:
            result = step(lc)
        desk = unit.guard.cases
        if desk is not None and desk.worker is not None:
            desk.worker.notify()  # an event was queued in the unit's outbox: deliver it soon
        return result

    def close(self) -> None:
        with self._open:
            for lc in self._lifecycles.values():
                lc.close()
            self._lifecycles.clear()


def _mapped(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except RuleBroken as exc:
        raise ApiError(409, "RULE_BROKEN", str(exc), rule=exc.rule) from None
    except UnknownListing as exc:
        raise ApiError(404, "LISTING_NOT_FOUND", str(exc)) from None
    except NoRuleSetConfigured as exc:
        raise ApiError(422, "FAILED_PRECONDITION", str(exc)) from None
    except CreditGuardError as exc:
        # Any other: e.g. a working-day calendar not covering the day, this service cannot decide it.
        raise (library_error(exc) or ApiError(422, "FAILED_PRECONDITION", str(exc))) from None


def add_supervision_routes(
    app: FastAPI,
    service: Service,
    *,
    bearer: HTTPBearer,
    unit_for: Callable[[Request], UnitRuntime],
    run: Callable[[Callable[[], Any]], Awaitable[Any]],
) -> Callable[[], None]:
    """Add the ``/v1/supervision`` routes to ``app``; returns what closes their lifecycles."""
    desks = _Desks(service) if isinstance(service, Service) else None

    def allowed(request: Request, unit: UnitRuntime, region: str, what: str) -> None:
        if not unit.config.allows_region(region):
            who = principal_of(request.scope)
            name = getattr(who, "credential", "-")
            refuse(service, request.scope, "region", name, f"{what} in {region}")
            raise ApiError(
                403,
                "PERMISSION_DENIED",
                f"unit {unit.config.code} may not act on listings of region {region or '(none)'}",
            )

    async def act(request: Request, record_id: str, step: Callable[[Lifecycle], T]) -> T:
        unit = unit_for(request)
        assert desks is not None  # a document-only app serves no request

        def work(lc: Lifecycle) -> T:
            listing = lc.store.listing(record_id)
            if listing is None:
                raise UnknownListing(
                    f"no listing {record_id!r} under supervision: register the record first"
                )
            allowed(request, unit, Lifecycle._region(listing.record), "supervision")
            return step(lc)

        result: T = await run(lambda: _mapped(lambda: desks.run(unit, work)))
        return result

    deps = [Depends(bearer)]

    async def event(
        request: Request, record_id: str, step: Callable[[Lifecycle], SupervisionEvent]
    ) -> EventResponse:
        return _event(await act(request, record_id, step))

    def post_event(path: str, summary: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """The decorator of a route that records one lifecycle event and answers it (201)."""
        return app.post(
            path,
            response_model=EventResponse,
            status_code=201,
            responses=_ERRORS,
            dependencies=deps,
            summary=summary,
        )

    @app.post(
        "/v1/supervision/listings",
        response_model=ListingResponse,
        status_code=201,
        responses=_ERRORS,
        dependencies=deps,
        summary="Put a listed record under supervision (as the platform gave it)",
    )
    async def register(body: RegisterRequest, request: Request) -> ListingResponse:
        """The record's region must be one of this unit's; its status stays the platform's."""
        unit = unit_for(request)
        try:
            record = CreditRecord.model_validate(body.record)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "record"
            raise ApiError(
                400, "INVALID_ARGUMENT", f"record.{loc}: {first['msg']} (a spec §4 record)"
            ) from None
        allowed(request, unit, Lifecycle._region(record), "register")
        assert desks is not None

        def work(lc: Lifecycle) -> ListingResponse:
            listing = lc.register(body.subject_code, record)
            return ListingResponse(
                record_id=listing.record.record_id,
                subject=mask_code(listing.subject_code),
                list_kind=listing.record.list_kind,
                region=Lifecycle._region(listing.record),
            )

        result: ListingResponse = await run(lambda: _mapped(lambda: desks.run(unit, work)))
        return result

    @post_event("/v1/supervision/rectification/order", "Order rectification (限期整改)")
    async def order(body: OrderRequest, request: Request) -> EventResponse:
        """By the identifying department only; one order per listing."""
        return await event(
            request,
            body.record_id,
            lambda lc: lc.order_rectification(
                body.record_id,
                requirements=body.requirements,
                deadline=body.deadline,
                public=body.public,
                at=body.at,
            ),
        )

    @post_event("/v1/supervision/rectification/confirm", "Confirm rectification (整改到位)")
    async def confirm(body: ConfirmRequest, request: Request) -> EventResponse:
        """By the identifying department, once, after an order; the status stays the platform's."""
        return await event(
            request,
            body.record_id,
            lambda lc: lc.confirm_rectification(
                body.record_id, confirmed_on=body.confirmed_on, at=body.at
            ),
        )

    @post_event("/v1/supervision/interview", "Record an interview (约谈) or its refusal")
    async def interview(body: InterviewRequest, request: Request) -> EventResponse:
        """谁认定、谁约谈; the kind follows the list; once per listing, after a missed deadline."""
        if body.refused_detail is None and body.attendee is None:
            raise ApiError(400, "INVALID_ARGUMENT", "attendee is required unless refused_detail")

        def step(lc: Lifecycle) -> SupervisionEvent:
            if body.refused_detail is not None:
                return lc.record_interview_refusal(
                    body.record_id, kind=body.kind, detail=body.refused_detail, at=body.at
                )
            assert body.attendee is not None
            return lc.hold_interview(
                body.record_id,
                kind=body.kind,
                attendee=body.attendee.model_dump(exclude_none=True),
                at=body.at,
            )

        return await event(request, body.record_id, step)

    @post_event("/v1/supervision/commitment", "Record a public credit commitment (信用承诺书)")
    async def commitment(body: CommitmentRequest, request: Request) -> EventResponse:
        """Its text's SHA-256 and the address it was published at are recorded."""
        return await event(
            request,
            body.record_id,
            lambda lc: lc.make_commitment(
                body.record_id, text=body.text, published_url=body.published_url, at=body.at
            ),
        )

    @post_event("/v1/supervision/training", "Record repair training (信用修复培训)")
    async def training(body: TrainingRequest, request: Request) -> EventResponse:
        """Class hours of the principal responsible person."""
        return await event(
            request,
            body.record_id,
            lambda lc: lc.record_training(
                body.record_id,
                hours=body.hours,
                organizer=body.organizer,
                attendee=body.attendee.model_dump(exclude_none=True),
                at=body.at,
            ),
        )

    @post_event("/v1/supervision/report", "Record a credit report by a credit-service agency")
    async def report(body: ReportRequest, request: Request) -> EventResponse:
        """An important reference for repair, not a precondition (notice 893 §11)."""
        return await event(
            request,
            body.record_id,
            lambda lc: lc.record_report(
                body.record_id, agency_code=body.agency_code, report_no=body.report_no, at=body.at
            ),
        )

    @app.get(
        "/v1/supervision/repair-check",
        response_model=RepairCheckResponse,
        responses=_ERRORS,
        dependencies=deps,
        summary="May the subject apply for credit repair of a record now?",
    )
    async def repair_check(
        request: Request,
        record_id: Annotated[str, Query(min_length=1, max_length=128)],
        as_of: Annotated[date | None, Query(description="default today")] = None,
        tier: Annotated[Literal["minor", "general", "serious"] | None, Query()] = None,
    ) -> RepairCheckResponse:
        """What is missing and from when; ``may_apply: null`` is never a yes."""

        def step(lc: Lifecycle) -> RepairCheckResponse:
            day = as_of or datetime.now(CST).date()
            a = lc.repair_status(record_id, as_of=day, tier=tier)
            return RepairCheckResponse(
                record_id=a.record_id,
                as_of=a.as_of,
                rules=a.rules,
                may_apply=a.may_apply,
                missing=list(a.missing),
                from_date=a.from_date,
                route=a.route,
                notes=list(a.notes),
            )

        result: RepairCheckResponse = await act(request, record_id, step)
        return result

    return desks.close if desks is not None else (lambda: None)
