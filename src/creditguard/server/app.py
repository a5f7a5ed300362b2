"""The decision service's HTTP API (FastAPI): the app, its error shapes, health and metrics.

Every ``/v1`` route acts for the unit of the calling credential: it may check
only the regions and steps configured for that unit, sees non-public records
only when the unit may, and feeds back only its own decisions. Work runs in
worker threads under ``[server] request_timeout_s``; the guard's own deadline
(``[guard] deadline_ms``) is far shorter, so a slow platform gives an
unverified decision long before the request times out.

The routes live beside it: check, screen, feedback and outbox in
:mod:`creditguard.server.decision_routes`, the supervision events in
:mod:`creditguard.server.supervision_routes`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from creditguard import __version__
from creditguard.server.auth import Principal
from creditguard.server.decision_routes import add_decision_routes
from creditguard.server.errors import ApiError, error_response
from creditguard.server.gate import Gate, principal, principal_of, refuse
from creditguard.server.metrics import CONTENT_TYPE
from creditguard.server.schemas import ERROR_RESPONSES, HealthResponse, ReadyResponse
from creditguard.server.service import Service, UnitRuntime
from creditguard.server.supervision_routes import add_supervision_routes

__all__ = ["create_app", "openapi_document"]

log = logging.getLogger("creditguard.server")
T = TypeVar("T")

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

    # -- routes ------------------------------------------------------------------------

    add_decision_routes(app, service, bearer=_bearer, unit_of=unit_of, run=run)

    @app.get(
        "/healthz", response_model=HealthResponse, responses=ERROR_RESPONSES, summary="Liveness"
    )
    async def healthz() -> HealthResponse:
        """The process answers (no credentials needed)."""
        return HealthResponse(status="ok")

    @app.get(
        "/readyz",
        response_model=ReadyResponse,
        responses={**ERROR_RESPONSES, 503: {"model": ReadyResponse, "description": "unavailable"}},
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
            **ERROR_RESPONSES,
            200: {"description": "Prometheus text format", "content": {"text/plain": {}}},
        },
        response_class=Response,
        dependencies=[Depends(_bearer)],
        summary="Prometheus metrics (monitor credentials)",
    )
    async def metrics(request: Request) -> Response:
        """Checks by outcome, latency, source errors, breakers, outbox backlog, dead letters and
        cases awaiting feedback (and overdue)."""
        who = principal(request)
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
            unit_for=lambda request: unit_of(request, principal(request)),
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
