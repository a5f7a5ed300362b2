"""The decision service's HTTP API (FastAPI): check, screen, feedback, outbox, health, metrics.

Every ``/v1`` route acts for the unit of the calling credential: it may check
only the regions and steps configured for that unit, sees non-public records
only when the unit may, and feeds back only its own decisions. Work runs in
worker threads under ``[server] request_timeout_s``; the guard's own deadline
(``[guard] deadline_ms``) is far shorter, so a slow platform gives an
unverified decision long before the request times out.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from creditguard import __version__
from creditguard.errors import CreditGuardError, InputError
from creditguard.screening import BLOCK_SIZE
from creditguard.server.auth import Principal
from creditguard.server.errors import ApiError, error_response, library_error
from creditguard.server.gate import Gate, principal_of, refuse
from creditguard.server.metrics import CONTENT_TYPE
from creditguard.server.schemas import (
    CheckRequest,
    CheckResponse,
    ErrorBody,
    FeedbackItemView,
    FeedbackRequest,
    FeedbackResponse,
    HealthResponse,
    OutboxResponse,
    ReadyResponse,
    ScreenRequest,
    ScreenResponse,
    ScreenRow,
    ScreenSummary,
)
from creditguard.server.service import Service, UnitRuntime, feedback_awaited
from creditguard.server.supervision import add_supervision_routes
from creditguard.server.tokens import BadToken, OpenedToken
from creditguard.server.views import check_response, screen_row

__all__ = ["create_app", "openapi_document"]

log = logging.getLogger("creditguard.server")
T = TypeVar("T")

_REGION = re.compile(r"[0-9]{6}")
_NDJSON = "application/x-ndjson"

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "bad input (named in the message)"},
    401: {"model": ErrorBody, "description": "no, or wrong, credentials"},
    403: {"model": ErrorBody, "description": "this credential's unit may not do this"},
    413: {"model": ErrorBody, "description": "body or batch too large"},
    503: {"model": ErrorBody, "description": "records unavailable (policy raise), timeout"},
    "default": {"model": ErrorBody, "description": "any other error, same shape"},
}

_DESCRIPTION = """\
Credit checks before approval-workflow steps, for systems that cannot import Python.

Authenticate with `Authorization: Bearer <token>` or sign each request with the
four `X-CG-*` headers of platform API v1 §2 (HMAC-SHA256 over method, path, sorted
query, timestamp, nonce and the body's SHA-256). Act on `outcome` only together with
`verification`: `unverified` means the records could not be obtained and the step's
failure policy chose the outcome. Every error has the body `{"error": {"code",
"message", "request_id"}}`. See docs/service.md.
"""

_bearer = HTTPBearer(auto_error=False, description="a unit's token (or sign per spec §2)")


def _principal(request: Request) -> Principal:
    found = principal_of(request.scope)
    if not isinstance(found, Principal):  # the gate lets no /v1 request through without one
        raise ApiError(401, "UNAUTHENTICATED", "no credentials")
    return found


def create_app(service: Service) -> FastAPI:
    """The ASGI app serving ``service``; closing the app's lifespan closes the service."""

    closers: list[Callable[[], None]] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for close in closers:
            await anyio.to_thread.run_sync(close)
        await anyio.to_thread.run_sync(service.close)

    app = FastAPI(
        title="creditguard decision service",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(Gate, service=service)

    async def run(fn: Callable[[], T]) -> T:
        # Off the event loop, bounded in time; a timed-out thread finishes on its own.
        timeout = service.config.server.request_timeout_s
        try:
            with anyio.fail_after(timeout):
                return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)
        except TimeoutError:
            raise ApiError(
                503, "UNAVAILABLE", f"the request took longer than {timeout:g} s; retry later"
            ) from None

    def unit_of(request: Request, who: Principal) -> UnitRuntime:
        if who.unit is None:
            refuse(service, request.scope, "monitor_credential", who.credential, "not a unit")
            raise ApiError(403, "PERMISSION_DENIED", "this credential belongs to no unit")
        return service.units[who.unit.code]

    def authorise(
        request: Request, who: Principal, unit: UnitRuntime, step: str, region: str
    ) -> None:
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

    # -- error shapes ----------------------------------------------------------------

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        service.metrics.errors.labels(str(exc.status), exc.code).inc()
        return error_response(request, exc.status, exc.code, exc.message, rule=exc.rule)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        service.metrics.errors.labels("400", "INVALID_ARGUMENT").inc()
        return error_response(request, 400, "INVALID_ARGUMENT", "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
            exc.status_code, "INVALID_ARGUMENT"
        )
        headers = dict(exc.headers or {})
        return error_response(request, exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error answering %s %s", request.method, request.url.path, exc_info=exc)
        service.metrics.errors.labels("500", "INTERNAL").inc()
        return error_response(request, 500, "INTERNAL", "internal error; see the service log")

    def library_errors(fn: Callable[[], T]) -> Callable[[], T]:
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

    # -- routes ------------------------------------------------------------------------

    @app.post(
        "/v1/check",
        response_model=CheckResponse,
        responses=_ERRORS,
        dependencies=[Depends(_bearer)],
        summary="Check one subject before one step",
    )
    async def check(body: CheckRequest, request: Request) -> CheckResponse:
        """Decide, open the case when measures apply, and keep the decision for feedback."""
        who = _principal(request)
        unit = unit_of(request, who)
        authorise(request, who, unit, body.step, body.region)
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
            **_ERRORS,
            200: {
                "description": "every row; with `Accept: application/x-ndjson` one row per line, "
                'then a line `{"summary": {...}}`',
                "content": {_NDJSON: {"schema": {"type": "string"}}},
            },
        },
        dependencies=[Depends(_bearer)],
        summary="Check many subjects for one step (a preview: no case is opened)",
    )
    async def screen(body: ScreenRequest, request: Request) -> Any:
        """Rows in input order, in blocks of 500 (one batch lookup per source per block)."""
        who = _principal(request)
        unit = unit_of(request, who)
        max_codes = service.config.server.max_screen_codes
        if len(body.codes) > max_codes:
            raise ApiError(
                413,
                "PAYLOAD_TOO_LARGE",
                f"{len(body.codes)} codes; at most {max_codes} per request",
            )
        authorise(request, who, unit, body.step, body.region)
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

    def decision_for(body: FeedbackRequest) -> OpenedToken:
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

    @app.post(
        "/v1/feedback",
        response_model=FeedbackResponse,
        status_code=201,
        responses={
            **_ERRORS,
            404: {"model": ErrorBody, "description": "unknown decision"},
            409: {
                "model": ErrorBody,
                "description": "WORKFLOW_REF_CONFLICT: workflow_ref is not the check's; "
                "FAILED_PRECONDITION: the unit has no outbox",
            },
        },
        dependencies=[Depends(_bearer)],
        summary="Record what the workflow did after a checked step",
    )
    async def feedback(body: FeedbackRequest, request: Request) -> FeedbackResponse:
        """One feedback fact per applied measure, written durably to the check's case.

        The case is the one the check opened, whatever worker answers: a
        ``workflow_ref`` other than the check's is refused (409).
        """
        who = _principal(request)
        unit = unit_of(request, who)
        issued = decision_for(body)
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
        responses=_ERRORS,
        dependencies=[Depends(_bearer)],
        summary="The calling unit's outbox backlog and awaited feedback",
    )
    async def outbox(request: Request) -> OutboxResponse:
        """Pending, due, in flight, delivered and dead items; cases awaiting feedback, overdue."""
        who = _principal(request)
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

    @app.get("/healthz", response_model=HealthResponse, responses=_ERRORS, summary="Liveness")
    async def healthz() -> HealthResponse:
        """The process answers (no credentials needed)."""
        return HealthResponse(status="ok")

    @app.get(
        "/readyz",
        response_model=ReadyResponse,
        responses={**_ERRORS, 503: {"model": ReadyResponse, "description": "unavailable"}},
        summary="Readiness: healthy, degraded or unavailable",
    )
    async def readyz(request: Request) -> Response:
        """``degraded`` (200): decisions are served but may be unverified; ``unavailable`` (503).

        Per-unit details (sources, breakers, outbox backlog, list versions) are
        shown to monitor credentials only.
        """
        units = await run(lambda: [u.readiness() for u in service.units.values()])
        states = {u.status for u in units}
        status = (
            "unavailable"
            if "unavailable" in states
            else ("degraded" if "degraded" in states else "healthy")
        )
        who = principal_of(request.scope)
        detail = isinstance(who, Principal) and who.role == "monitor"
        body = ReadyResponse(status=status, units=units if detail else [])
        return JSONResponse(
            body.model_dump(mode="json"), status_code=503 if status == "unavailable" else 200
        )

    @app.get(
        "/metrics",
        responses={
            **_ERRORS,
            200: {"description": "Prometheus text format", "content": {"text/plain": {}}},
        },
        response_class=Response,
        dependencies=[Depends(_bearer)],
        summary="Prometheus metrics (monitor credentials)",
    )
    async def metrics(request: Request) -> Response:
        """Checks by outcome, latency, source errors, breakers, outbox backlog, dead letters and
        cases awaiting feedback (and overdue)."""
        who = _principal(request)
        if who.role != "monitor":
            refuse(service, request.scope, "not_monitor", who.credential, "metrics")
            raise ApiError(403, "PERMISSION_DENIED", "metrics need a monitor credential")
        data = await run(service.metrics.render)
        return Response(data, media_type=CONTENT_TYPE)

    closers.append(
        add_supervision_routes(
            app,
            service,
            bearer=_bearer,
            unit_for=lambda request: unit_of(request, _principal(request)),
            run=run,
        )
    )
    return app


class _DocumentOnly:
    """Stands in for a service when only the OpenAPI document is wanted (no request is served)."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("this app only describes the API; build it with a Service to serve")


def openapi_document() -> dict[str, Any]:
    """The service's OpenAPI document, derived from the routes and pydantic models.

    Committed as ``docs/openapi.json``; tests/server/test_openapi.py fails
    when the two differ and says how to write it anew.
    """
    return create_app(cast(Service, _DocumentOnly())).openapi()
