"""The ``/v1`` decision routes: check, screen, feedback and the calling unit's outbox.

Every route acts for the unit of the calling credential
(:func:`~creditguard.server.gate.principal` and the ``unit_of`` the app
passes in): it may check only the regions and steps configured for that
unit (:func:`authorise`), and feeds back only its own decisions. Work runs
through the app's ``run`` (a worker thread under ``[server]
request_timeout_s``). The app itself, its error handlers, health and metrics
are :mod:`creditguard.server.app`.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPBearer

from creditguard.errors import CreditGuardError, InputError
from creditguard.screening import BLOCK_SIZE
from creditguard.server.auth import Principal
from creditguard.server.errors import ApiError, library_error
from creditguard.server.gate import principal, refuse
from creditguard.server.schemas import (
    ERROR_RESPONSES,
    CheckRequest,
    CheckResponse,
    ErrorBody,
    FeedbackItemView,
    FeedbackRequest,
    FeedbackResponse,
    OutboxResponse,
    ScreenRequest,
    ScreenResponse,
    ScreenRow,
    ScreenSummary,
)
from creditguard.server.service import Service, UnitRuntime, feedback_awaited
from creditguard.server.tokens import BadToken, OpenedToken
from creditguard.server.views import check_response, screen_row

__all__ = [
    "Runner",
    "add_decision_routes",
    "application_of",
    "authorise",
    "decision_for",
    "library_errors",
]

T = TypeVar("T")

_REGION = re.compile(r"[0-9]{6}")
_NDJSON = "application/x-ndjson"


class Runner(Protocol):
    """Runs ``fn`` off the event loop under the request timeout (the app's ``run``)."""

    def __call__(self, fn: Callable[[], T], /) -> Awaitable[T]: ...


def authorise(
    service: Service, request: Request, who: Principal, unit: UnitRuntime, step: str, region: str
) -> None:
    """Refuse a step or region the unit may not check (400 for a bad shape, 403 otherwise)."""
    # Shape first (so a typo gets its suggestion), then what this unit may do.
    try:
        unit.guard.engine.steps.require(step)
    except InputError as exc:
        raise ApiError(400, "INVALID_ARGUMENT", str(exc)) from None
    if _REGION.fullmatch(region) is None:
        raise ApiError(
            400, "INVALID_ARGUMENT", f"region must be a 6-digit division code, got {region!r}"
        )
    if not unit.config.allows_region(region):
        refuse(service, request.scope, "region", who.credential, region)
        raise ApiError(
            403, "PERMISSION_DENIED", f"unit {unit.config.code} may not check region {region}"
        )
    if not unit.config.allows_step(step):
        refuse(service, request.scope, "step", who.credential, step)
        raise ApiError(
            403, "PERMISSION_DENIED", f"unit {unit.config.code} may not check step {step}"
        )


def library_errors(fn: Callable[[], T]) -> Callable[[], T]:
    """``fn`` answering a library error with its API error (others reach the 500 handler)."""

    @functools.wraps(fn)
    def inner() -> T:
        try:
            return fn()
        except CreditGuardError as exc:
            answer = library_error(exc)
            if answer is None:
                raise  # not the caller's doing: the 500 handler logs it
            raise answer from None

    return inner


def decision_for(service: Service, body: FeedbackRequest) -> OpenedToken:
    """The decision feedback is for: the sealed token's, else the one this process kept."""
    # A token is the decision itself (sealed): any worker opens it, before or after a restart.
    if body.feedback_token is not None:
        try:
            opened = service.tokens.open(body.feedback_token)
        except BadToken as exc:
            raise ApiError(400, "INVALID_ARGUMENT", str(exc)) from None
        if body.decision_id is not None and body.decision_id != opened.decision.decision_id:
            raise ApiError(
                400,
                "INVALID_ARGUMENT",
                "decision_id names another decision than feedback_token; send the token only",
            )
        return opened
    assert body.decision_id is not None  # the request model requires one of the two
    found = service.decisions.get(body.decision_id)
    if found is None:
        raise ApiError(
            404,
            "DECISION_NOT_FOUND",
            f"decision {body.decision_id} is not known to this process (decisions are kept "
            f"in memory, the latest {service.config.server.decisions_kept}); send the "
            "check's feedback_token instead, which any worker accepts",
        )
    return found


def application_of(issued: OpenedToken, named: str | None) -> str | None:
    """The ``workflow_ref`` feedback goes to: the check's; another one is 409."""
    # The decision's case is the check's application's: feedback may not move it to another.
    if issued.workflow_ref is None or named is None or named == issued.workflow_ref:
        return named if named is not None else issued.workflow_ref
    raise ApiError(
        409,
        "WORKFLOW_REF_CONFLICT",
        f"workflow_ref {named!r} is not the application this decision was checked for "
        f"({issued.workflow_ref!r}); its case is that application's: send "
        f"{issued.workflow_ref!r} or no workflow_ref, or check again for {named!r}",
    )


def add_decision_routes(
    app: FastAPI,
    service: Service,
    *,
    bearer: HTTPBearer,
    unit_of: Callable[[Request, Principal], UnitRuntime],
    run: Runner,
) -> None:
    """Add ``/v1/check``, ``/v1/screen``, ``/v1/feedback`` and ``/v1/outbox`` to ``app``."""

    @app.post(
        "/v1/check",
        response_model=CheckResponse,
        responses=ERROR_RESPONSES,
        dependencies=[Depends(bearer)],
        summary="Check one subject before one step",
    )
    async def check(body: CheckRequest, request: Request) -> CheckResponse:
        """Decide, open the case when measures apply, and keep the decision for feedback."""
        who = principal(request)
        unit = unit_of(request, who)
        authorise(service, request, who, unit, body.step, body.region)
        started = time.perf_counter()

        @library_errors
        def work() -> CheckResponse:
            d = unit.guard.check(
                body.subject_code,
                step=body.step,
                region=body.region,
                as_of=body.as_of,
                open_case=body.open_case,
                workflow_ref=body.workflow_ref,
            )
            unit.noted(d)
            service.metrics.decided(unit.config.code, d)
            desk = unit.guard.cases
            # The case the check just opened (remembered by the desk), carried by the token so
            # feedback in any worker goes to it and never opens one of its own.
            case_id = (
                desk.case_of(d, workflow_ref=body.workflow_ref)
                if d.measures and body.open_case and desk is not None
                else None
            )
            service.decisions.put(
                unit.config.code, d, case_id=case_id, workflow_ref=body.workflow_ref
            )
            answer = check_response(
                d, unit_code=unit.config.code, see_non_public=unit.config.see_non_public
            )
            if case_id is not None:
                token = service.tokens.issue(
                    unit.config.code, d, case_id=case_id, workflow_ref=body.workflow_ref
                )
                answer = answer.model_copy(update={"feedback_token": token})
            return answer

        try:
            return await run(work)
        finally:
            service.metrics.latency.labels("check").observe(time.perf_counter() - started)

    @app.post(
        "/v1/screen",
        response_model=ScreenResponse,
        responses={
            **ERROR_RESPONSES,
            200: {
                "description": "every row; with `Accept: application/x-ndjson` one row per line, "
                'then a line `{"summary": {...}}`',
                "content": {_NDJSON: {"schema": {"type": "string"}}},
            },
        },
        dependencies=[Depends(bearer)],
        summary="Check many subjects for one step (a preview: no case is opened)",
    )
    async def screen(body: ScreenRequest, request: Request) -> Any:
        """Rows in input order, in blocks of 500 (one batch lookup per source per block)."""
        who = principal(request)
        unit = unit_of(request, who)
        max_codes = service.config.server.max_screen_codes
        if len(body.codes) > max_codes:
            raise ApiError(
                413,
                "PAYLOAD_TOO_LARGE",
                f"{len(body.codes)} codes; at most {max_codes} per request",
            )
        authorise(service, request, who, unit, body.step, body.region)
        guard = unit.guard
        see = unit.config.see_non_public

        @library_errors
        def validate() -> None:
            # Settle the list in force before anything streams: an error then is still a 4xx.
            guard.catalog.resolve(body.region, body.as_of or guard.engine.today())

        await run(validate)

        def block(codes: list[str], offset: int) -> list[ScreenRow]:
            results = library_errors(
                lambda: guard.screen(codes, step=body.step, region=body.region, as_of=body.as_of)
            )()
            rows = []
            for r in results:
                if r.decision is not None:
                    unit.noted(r.decision)
                    service.metrics.decided(unit.config.code, r.decision)
                rows.append(
                    screen_row(r, see_non_public=see).model_copy(update={"row": r.row + offset})
                )
            return rows

        chunks = [
            (body.codes[i : i + BLOCK_SIZE], i) for i in range(0, len(body.codes), BLOCK_SIZE)
        ]
        if _NDJSON in request.headers.get("accept", ""):

            def stream() -> Iterator[bytes]:
                counts: dict[str, int] = {}
                unverified = 0
                for codes, offset in chunks:
                    for row in block(codes, offset):
                        counts[row.outcome] = counts.get(row.outcome, 0) + 1
                        unverified += row.verified is False
                        yield row.model_dump_json().encode() + b"\n"
                summary = ScreenSummary(
                    rows=len(body.codes), by_outcome=counts, unverified=unverified
                )
                yield json.dumps({"summary": summary.model_dump()}).encode() + b"\n"

            return StreamingResponse(stream(), media_type=_NDJSON)

        started = time.perf_counter()

        def everything() -> list[ScreenRow]:
            return [row for codes, offset in chunks for row in block(codes, offset)]

        try:
            rows = await run(everything)
        finally:
            service.metrics.latency.labels("screen").observe(time.perf_counter() - started)
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.outcome] = counts.get(row.outcome, 0) + 1
        return ScreenResponse(
            rows=rows,
            summary=ScreenSummary(
                rows=len(rows),
                by_outcome=counts,
                unverified=sum(1 for r in rows if r.verified is False),
            ),
        )

    @app.post(
        "/v1/feedback",
        response_model=FeedbackResponse,
        status_code=201,
        responses={
            **ERROR_RESPONSES,
            404: {"model": ErrorBody, "description": "unknown decision"},
            409: {
                "model": ErrorBody,
                "description": "WORKFLOW_REF_CONFLICT: workflow_ref is not the check's; "
                "FAILED_PRECONDITION: the unit has no outbox",
            },
        },
        dependencies=[Depends(bearer)],
        summary="Record what the workflow did after a checked step",
    )
    async def feedback(body: FeedbackRequest, request: Request) -> FeedbackResponse:
        """One feedback fact per applied measure, written durably to the check's case.

        The case is the one the check opened, whatever worker answers: a
        ``workflow_ref`` other than the check's is refused (409).
        """
        who = principal(request)
        unit = unit_of(request, who)
        issued = decision_for(service, body)
        owner, decision = issued.unit_code, issued.decision
        if owner != unit.config.code:
            refuse(service, request.scope, "foreign_decision", who.credential, decision.decision_id)
            raise ApiError(403, "PERMISSION_DENIED", "this decision was made for another unit")
        desk = unit.guard.cases
        if desk is None:
            raise ApiError(
                409,
                "FAILED_PRECONDITION",
                f"unit {owner} has no outbox: set [guard] unit_code and [outbox] in its file",
            )
        workflow_ref = application_of(issued, body.workflow_ref)

        @library_errors
        def work() -> FeedbackResponse:
            if issued.case_id is not None:
                desk.adopt(decision, issued.case_id)
            items = unit.guard.feedback(
                decision,
                actions=dict(body.actions),
                detail=body.detail,
                workflow_ref=workflow_ref,
            )
            return FeedbackResponse(
                decision_id=decision.decision_id,
                items=[FeedbackItemView(key=i.key, kind=i.kind, topic=i.topic) for i in items],
            )

        return await run(work)

    @app.get(
        "/v1/outbox",
        response_model=OutboxResponse,
        responses=ERROR_RESPONSES,
        dependencies=[Depends(bearer)],
        summary="The calling unit's outbox backlog and awaited feedback",
    )
    async def outbox(request: Request) -> OutboxResponse:
        """Pending, due, in flight, delivered and dead items; cases awaiting feedback, overdue."""
        who = principal(request)
        unit = unit_of(request, who)
        desk = unit.guard.cases
        if desk is None:
            return OutboxResponse(
                unit_code=unit.config.code,
                enabled=False,
                pending=0,
                due=0,
                in_flight=0,
                delivered=0,
                dead=0,
                oldest_pending_age_s=None,
                pending_by_kind={},
                awaiting_feedback=0,
                feedback_overdue=0,
                feedback_due_s=None,
            )

        @library_errors
        def work() -> OutboxResponse:
            now = time.time()
            st = desk.outbox.status(now=now)
            awaiting, overdue = feedback_awaited(desk, now=now)
            return OutboxResponse(
                unit_code=unit.config.code,
                enabled=True,
                pending=st.pending,
                due=st.due,
                in_flight=st.in_flight,
                delivered=st.delivered,
                dead=st.dead,
                oldest_pending_age_s=st.oldest_pending_age_s,
                pending_by_kind=dict(st.by_kind),
                awaiting_feedback=awaiting,
                feedback_overdue=overdue,
                feedback_due_s=desk.feedback_due_s,
            )

        return await run(work)
