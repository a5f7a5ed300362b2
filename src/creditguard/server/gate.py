"""The gate every request passes: request id, body size limit, authentication.

A pure ASGI middleware, so it runs before FastAPI parses anything: a request
without valid credentials is refused with 401 whatever its body, and a body
over ``max_body_bytes`` is refused with 413 before it is read in full. The
body is read once here (a signature covers it) and handed on unchanged.
Every refusal is logged (credential name, never a secret) and counted.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditguard.server.auth import Principal, Refused
from creditguard.server.errors import ApiError, error_response, request_id
from creditguard.server.service import Service

__all__ = ["Gate", "principal", "principal_of", "refuse"]

log = logging.getLogger("creditguard.server")

#: Paths answered without credentials (credentials, when sent, must still be valid).
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json"})


class _TooLarge(Exception):
    pass


def refuse(service: Service, scope: Scope, reason: str, who: str, message: str) -> None:
    """Log and count one refusal."""
    service.metrics.refusals.labels(reason).inc()
    log.warning(
        "refused %s %s: %s (%s; credential %s; request %s)",
        scope.get("method", "?"),
        scope.get("path", "?"),
        reason,
        message,
        who,
        request_id(scope),
    )


class Gate:
    """ASGI middleware: size limit and authentication in front of the app."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self.limit = service.config.server.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id(scope)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        try:
            body = await self._read(receive)
        except _TooLarge:
            await self._too_large(scope, receive, send)
            return
        path: str = scope["path"]
        has_credentials = "authorization" in headers or any(h.startswith("x-cg-") for h in headers)
        if path not in PUBLIC_PATHS or has_credentials:
            raw = scope.get("raw_path") or path.encode()
            try:
                principal = self.service.auth.authenticate(
                    headers,
                    scope["method"],
                    raw.decode("latin-1").partition("?")[0],
                    scope.get("query_string", b"").decode("latin-1"),
                    body,
                )
            except Refused as exc:
                refuse(self.service, scope, exc.reason, "-", str(exc))
                response = error_response(
                    scope, exc.status, exc.code, str(exc), {"WWW-Authenticate": "Bearer"}
                )
                await response(scope, _replay(body, receive), send)
                return
            scope["state"]["principal"] = principal
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.service.metrics.errors.labels("413", "PAYLOAD_TOO_LARGE").inc()
        response = error_response(
            scope,
            413,
            "PAYLOAD_TOO_LARGE",
            f"request body larger than {self.limit} bytes; split the batch",
            {"Connection": "close"},
        )
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    # The body once, then the real channel (a streaming response listens on it for the
    # client's disconnect; answering "disconnected" at once would cut the stream).
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def principal_of(scope: Any) -> Any:
    """The authenticated caller of a request (set by the gate), or None."""
    return scope.get("state", {}).get("principal")


def principal(request: Any) -> Principal:
    """The authenticated caller of a ``/v1`` request (401 if none: the gate lets none through)."""
    found = principal_of(request.scope)
    if not isinstance(found, Principal):
        raise ApiError(401, "UNAUTHENTICATED", "no credentials")
    return found
