"""The reference platform: a complete, in-memory server side of platform API v1.

It checks signatures, timestamps and nonces like a real platform (spec §2),
keeps idempotency keys (spec §6), answers every endpoint of spec §§4–7, 10
and 11 under an optional base path (``/api`` by default), and plays injected
:class:`~creditguard.testing.faults.Fault` s. Use it in-process::

    platform = ReferencePlatform()
    client = httpx.Client(transport=platform.mock_transport(), base_url="http://platform.test/api")

or over loopback with :func:`creditguard.testing.server.serve`.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import httpx

from creditguard.testing.api import Answer, ApiError, Call, error_answer, handle_call
from creditguard.testing.auth import SignatureRefused, check_signature
from creditguard.testing.faults import Fault, FaultSchedule, Injection
from creditguard.testing.state import DEFAULT_APP_KEY, DEFAULT_SECRET, LoggedRequest, PlatformState

__all__ = ["Plan", "ReferencePlatform"]

Action = Literal["answer", "truncate", "drip", "oversize", "reset", "refuse"]
_CHUNK = 64 * 1024
_DRIP_TICK = 0.05


@dataclass(frozen=True)
class Plan:
    """What a transport must do for one request: wait ``delay``, then play ``action``."""

    action: Action
    answer: Answer | None = None
    delay: float = 0.0
    bytes_per_second: float = 0.0
    n_bytes: int = 0

    def drip_chunks(self) -> Iterator[tuple[bytes, float]]:
        """The answer's body in slices, each with the pause to take after it."""
        assert self.answer is not None
        step = max(1, int(self.bytes_per_second * _DRIP_TICK))
        body = self.answer.body
        for i in range(0, len(body), step):
            yield body[i : i + step], step / self.bytes_per_second

    def oversize_chunks(self) -> Iterator[bytes]:
        """A JSON-looking body of ``n_bytes`` bytes, streamed."""
        head = b'{"records":["'
        yield head
        left = self.n_bytes - len(head)
        while left > 0:
            n = min(_CHUNK, left)
            yield b"x" * n
            left -= n


class ReferencePlatform(PlatformState):
    """Platform API v1 held in memory; see the module docstring.

    ``latency`` (seconds) delays every answer, for benchmarks against a
    realistic platform; ``faults`` holds injected faults.
    """

    def __init__(
        self,
        *,
        base_path: str = "/api",
        app_key: str = DEFAULT_APP_KEY,
        secret: str = DEFAULT_SECRET,
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        if (app_key, secret) != (DEFAULT_APP_KEY, DEFAULT_SECRET):
            self.app_keys = {app_key: secret}
            self.private_readers = {app_key}
        self.latency = latency
        self.faults = FaultSchedule()

    def __repr__(self) -> str:
        return f"ReferencePlatform(base_path={self.base_path!r}, keys={sorted(self.app_keys)!r})"

    # --- faults ----------------------------------------------------------------------

    def inject(self, *faults: Fault) -> Injection:
        """Put faults in force; the handle removes them, also as a context manager."""
        return self.faults.add(*faults)

    def down(self, for_seconds: float | None = None) -> Injection:
        """Refuse every connection, for ``for_seconds`` or until :meth:`up`."""
        return self.faults.add(Fault.down(for_seconds))

    def up(self) -> None:
        """Undo :meth:`down`."""
        self.faults.remove(*[f for f in self.faults if f.kind == "down"])

    # --- request handling ------------------------------------------------------------

    def plan(self, call: Call) -> Plan:
        """Decide what to answer to ``call`` (faults first, then signature and endpoint)."""
        api_path = self._api_path(call.path)
        chosen = self.faults.choose(call.method, api_path if api_path is not None else call.path)
        delay = self.latency + chosen.delay
        fault = chosen.fault
        request_id = self.next_id("r")
        app_key: str | None = None
        plan: Plan
        if fault is None or fault.kind in ("truncated", "drip"):
            answer, app_key = self._answer(call, api_path, request_id)
            if fault is None:
                plan = Plan("answer", answer, delay)
            elif fault.kind == "truncated":
                plan = Plan("truncate", answer, delay)
            else:
                plan = Plan("drip", answer, delay, bytes_per_second=fault.bytes_per_second)
        elif fault.kind == "status":
            plan = Plan("answer", _status_answer(fault, request_id), delay)
        elif fault.kind == "garbage":
            headers = (("Content-Type", "text/html"),)
            plan = Plan("answer", Answer(fault.status_code, fault.body or b"", headers), delay)
        elif fault.kind == "oversize":
            plan = Plan("oversize", delay=delay, n_bytes=fault.n_bytes)
        else:
            plan = Plan("reset" if fault.kind == "reset" else "refuse", delay=delay)
        self._log(call, api_path, plan, app_key, fault)
        return plan

    def _api_path(self, path: str) -> str | None:
        if not self.base_path:
            return path
        if path.startswith(self.base_path + "/"):
            return path[len(self.base_path) :]
        return None

    def _answer(
        self, call: Call, api_path: str | None, request_id: str
    ) -> tuple[Answer, str | None]:
        app_key: str | None = None
        try:
            if api_path is None:
                raise ApiError(
                    404, f"no such path {call.path} (the API lives under {self.base_path}/v1)"
                )
            with self.lock:
                try:
                    app_key = check_signature(
                        call.headers,
                        self.app_keys,
                        call.method,
                        call.path,
                        call.query,
                        call.body,
                        nonces=self.store.nonces,
                        now=self.clock(),
                    )
                except SignatureRefused as exc:
                    raise ApiError(401, str(exc)) from None
            answer = handle_call(self, call, api_path, app_key)
        except ApiError as err:
            answer = error_answer(err, request_id)
        except Exception as exc:  # a bug here must show up as a 500, not kill the server thread
            answer = error_answer(ApiError(500, f"reference platform failed: {exc!r}"), request_id)
        return Answer(
            answer.status, answer.body, (*answer.headers, ("X-Request-Id", request_id))
        ), app_key

    def _log(
        self, call: Call, api_path: str | None, plan: Plan, app_key: str | None, fault: Fault | None
    ) -> None:
        try:
            body: Any = json.loads(call.body) if call.body else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        status = (
            plan.answer.status
            if plan.answer is not None
            else (200 if plan.action == "oversize" else None)
        )
        entry = LoggedRequest(
            method=call.method,
            path=api_path if api_path is not None else call.path,
            query=call.query,
            idempotency_key=call.headers.get("idempotency-key"),
            body=body,
            status=status,
            app_key=app_key,
            fault=fault.kind if fault is not None else None,
        )
        with self.lock:
            self.store.log.append(entry)

    # --- in-process transports -----------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer an ``httpx.Request`` synchronously (the handler of ``httpx.MockTransport``)."""
        plan = self.plan(_call_from(request))
        if plan.delay:
            time.sleep(plan.delay)
        if plan.action == "drip":
            return _response(plan, request, _sync_drip(plan))
        if plan.action == "oversize":
            return _response(plan, request, plan.oversize_chunks())
        return _response(plan, request, None)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        """Answer an ``httpx.Request`` without blocking the event loop (for ``AsyncClient``)."""
        plan = self.plan(_call_from(request))
        if plan.delay:
            await anyio.sleep(plan.delay)
        if plan.action == "drip":
            return _response(plan, request, _async_drip(plan))
        if plan.action == "oversize":
            return _response(plan, request, _async_iter(plan.oversize_chunks()))
        return _response(plan, request, None)

    def mock_transport(self) -> httpx.MockTransport:
        """A transport for ``httpx.Client`` answering from this platform."""
        return httpx.MockTransport(self.handle)

    def async_mock_transport(self) -> httpx.MockTransport:
        """A transport for ``httpx.AsyncClient`` answering from this platform."""
        return httpx.MockTransport(self.handle_async)


def _status_answer(fault: Fault, request_id: str) -> Answer:
    headers: tuple[tuple[str, str], ...] = ()
    if fault.retry_after is not None:
        headers = (("Retry-After", str(fault.retry_after)),)
    if fault.body is not None:
        return Answer(
            fault.status_code, fault.body, (("Content-Type", "application/json"), *headers)
        )
    return error_answer(ApiError(fault.status_code, "injected fault", headers=headers), request_id)


def _call_from(request: httpx.Request) -> Call:
    raw = request.url.raw_path.decode("ascii")
    path, _, query = raw.partition("?")
    headers = {k.lower(): v for k, v in request.headers.items()}
    return Call(request.method, path, query, headers, request.content)


def _response(
    plan: Plan, request: httpx.Request, stream: Iterator[bytes] | AsyncIterator[bytes] | None
) -> httpx.Response:
    if plan.action == "reset":
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    if plan.action == "refuse":
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
    if plan.action == "oversize":
        assert stream is not None
        return httpx.Response(
            200, headers={"Content-Type": "application/json"}, content=stream, request=request
        )
    answer = plan.answer
    assert answer is not None
    headers = list(answer.headers)
    if plan.action == "drip":
        assert stream is not None
        headers.append(("Content-Length", str(len(answer.body))))
        return httpx.Response(answer.status, headers=headers, content=stream, request=request)
    body = answer.body[: len(answer.body) // 2] if plan.action == "truncate" else answer.body
    return httpx.Response(answer.status, headers=headers, content=body, request=request)


def _sync_drip(plan: Plan) -> Iterator[bytes]:
    for chunk, pause in plan.drip_chunks():
        yield chunk
        time.sleep(pause)


async def _async_drip(plan: Plan) -> AsyncIterator[bytes]:
    for chunk, pause in plan.drip_chunks():
        yield chunk
        await anyio.sleep(pause)


async def _async_iter(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
