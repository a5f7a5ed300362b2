"""The drivers: the only code that sends HTTP requests for record sources.

:class:`SyncDriver` (``httpx.Client``) and :class:`AsyncDriver`
(``httpx.AsyncClient``) run the flows of :mod:`creditguard.remote.flow` and
differ only in how they send a request and how they sleep. Each owns one
client (created lazily, recreated in a child process after ``fork``), a
connection pool capped at ``max_connections`` and one circuit breaker per
source name.

Concurrency: the chunks of one fetch (``max_batch`` codes each) are sent
concurrently, at most ``chunk_concurrency`` at a time — the async driver with
``asyncio.gather`` under a semaphore, the sync driver through a small thread
pool. A fetch of a single chunk (every ordinary check) runs inline.

Deadline: both drivers end a request at the check's deadline and report it
the same way (``timed out at the deadline after … s``). The async driver wraps
the whole request in ``asyncio.timeout``. The sync driver cannot interrupt a
socket operation, so it gives each one the time left when it starts: httpx
timeouts equal to the time left, renewed at the start of every phase (connect,
send, wait for the answer, read the body) through httpcore's ``trace``
extension, since httpx's timeouts apply per operation and would otherwise
let a slow connect push the wait for the answer past the deadline. The body is
read chunk by chunk, stopping at the deadline.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Self

import httpx

from creditguard.errors import SourceError
from creditguard.models import SubjectRecords
from creditguard.remote._slots import ConnectionSlots
from creditguard.remote.breaker import CircuitBreaker
from creditguard.remote.flow import (
    BodyReader,
    Done,
    FetchResult,
    Flow,
    Reply,
    Send,
    Sleep,
    advance,
    chunk_flow,
    chunks,
    transport_error,
)
from creditguard.remote.policy import RemoteSettings
from creditguard.sources import HttpSource

__all__ = ["AsyncDriver", "SyncDriver"]

Records = dict[str, SubjectRecords]


class _DriverBase:
    """State both drivers share: settings, breakers, fork detection, planning."""

    def __init__(self, settings: RemoteSettings | None, clock: Callable[[], float]) -> None:
        self.settings = settings or RemoteSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, source_name: str) -> CircuitBreaker:
        """The circuit breaker of one source (created on first use)."""
        self._check_fork()
        found = self._breakers.get(source_name)
        if found is not None:
            return found
        with self._lock:
            return self._breakers.setdefault(
                source_name,
                CircuitBreaker(
                    self.settings.breaker_threshold, self.settings.breaker_reset_s, self._clock
                ),
            )

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            # A child inherits the parent's sockets and maybe a held lock: start afresh.
            self._lock = threading.Lock()
            self._breakers = {}
            self._forget_after_fork()
            self._pid = os.getpid()

    def _forget_after_fork(self) -> None:
        raise NotImplementedError

    def _limits(self) -> httpx.Limits:
        n = self.settings.max_connections
        return httpx.Limits(max_connections=n, max_keepalive_connections=n)

    def _flow(
        self, source: HttpSource, codes: Sequence[str], include_related: bool, deadline: float
    ) -> Flow:
        return chunk_flow(
            source,
            codes,
            include_related=include_related,
            deadline=deadline,
            breaker=self.breaker(source.name),
            settings=self.settings,
            clock=self._clock,
        )

    def _timeouts(self, send: Send) -> dict[str, float]:
        left = max(send.deadline - self._clock(), 0.001)
        return {
            "connect": min(self.settings.connect_timeout_s, left),
            "read": left,
            "write": left,
            "pool": left,
        }

    @staticmethod
    def _result(
        parts: Sequence[list[str]], outcomes: Sequence[Records | SourceError]
    ) -> FetchResult:
        records: Records = {}
        errors: dict[str, SourceError] = {}
        for codes, outcome in zip(parts, outcomes, strict=True):
            if isinstance(outcome, SourceError):
                errors.update(dict.fromkeys(codes, outcome))
            else:
                records.update(outcome)
        return FetchResult(records, errors)

    def _deadline(self, deadline: float | None) -> float:
        return self._clock() + self.settings.deadline_s if deadline is None else deadline


class SyncDriver(_DriverBase):
    """Sends a source's requests with ``httpx.Client``; thread-safe and fork-safe."""

    def __init__(
        self,
        settings: RemoteSettings | None = None,
        transport: httpx.BaseTransport | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(settings, clock)
        self._transport = transport
        self._sleep = sleep
        self._client_obj: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None

    def fetch(
        self,
        source: HttpSource,
        codes: Sequence[str],
        *,
        include_related: bool = False,
        deadline: float | None = None,
    ) -> Records:
        """Records of every code, or raise the first chunk's error.

        ``deadline`` is an absolute ``time.monotonic()`` value (default: now
        plus ``settings.deadline_s``).
        """
        return dict(
            self.fetch_many(
                source, codes, include_related=include_related, deadline=deadline
            ).unwrap()
        )

    def fetch_many(
        self,
        source: HttpSource,
        codes: Sequence[str],
        *,
        include_related: bool = False,
        deadline: float | None = None,
    ) -> FetchResult:
        """Records of every code whose chunk succeeded, and the errors of the others."""
        end = self._deadline(deadline)
        parts = chunks(codes, source.max_batch)

        def run(part: list[str]) -> Records | SourceError:
            try:
                return self._drive(self._flow(source, part, include_related, end))
            except SourceError as exc:
                return exc

        if len(parts) <= 1:
            return self._result(parts, [run(p) for p in parts])
        return self._result(parts, list(self._executor().map(run, parts)))

    def _drive(self, flow: Flow) -> Records:
        reply: Reply = None
        try:
            while True:
                action = advance(flow, reply)
                if isinstance(action, Done):
                    return dict(action.value)
                if isinstance(action, Sleep):
                    self._sleep(action.seconds)
                    reply = None
                else:
                    reply = self._send(action)
        finally:
            flow.close()

    def _send(self, send: Send) -> httpx.Response | SourceError:
        request = send.request
        timeouts = self._timeouts(send)
        request.extensions = {
            **request.extensions,
            "timeout": timeouts,
            "trace": self._deadline_trace(send, timeouts, request.extensions.get("trace")),
        }
        body = BodyReader(send, self.settings.max_response_bytes, self._clock)
        started = self._clock()
        try:
            response = self._client().send(request, stream=True)
            try:
                body.start(response)
                for chunk in response.iter_bytes():
                    body.add(chunk, response)
            finally:
                response.close()
            return body.finish(response)
        except SourceError as exc:
            return exc
        except httpx.HTTPError as exc:
            return transport_error(exc, send, started, self._clock())

    def _deadline_trace(
        self,
        send: Send,
        timeouts: dict[str, float],
        prior: Callable[[str, dict[str, object]], None] | None,
    ) -> Callable[[str, dict[str, object]], None]:
        """An httpcore ``trace`` callback giving each phase only the time left to the deadline.

        httpcore reads the request's ``timeout`` extension as each phase starts
        (after its ``….started`` event), so renewing the shared dict here bounds
        the whole exchange by the deadline, not each operation separately.
        """

        def trace(event: str, info: dict[str, object]) -> None:
            if event.endswith(".started"):
                timeouts.update(self._timeouts(send))
            if prior is not None:
                prior(event, info)

        return trace

    def _client(self) -> httpx.Client:
        self._check_fork()
        client = self._client_obj
        if client is None:
            with self._lock:
                client = self._client_obj
                if client is None:
                    client = httpx.Client(
                        transport=self._transport, limits=self._limits(), follow_redirects=False
                    )
                    self._client_obj = client
        return client

    def _executor(self) -> ThreadPoolExecutor:
        self._check_fork()
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._pool
                if pool is None:
                    pool = ThreadPoolExecutor(
                        self.settings.chunk_concurrency, thread_name_prefix="creditguard-fetch"
                    )
                    self._pool = pool
        return pool

    def _forget_after_fork(self) -> None:
        # The parent's client and threads are not ours to close: drop them.
        self._client_obj = None
        self._pool = None

    def close(self) -> None:
        """Close the connection pool and the thread pool."""
        with self._lock:
            client, self._client_obj = self._client_obj, None
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if client is not None and self._pid == os.getpid():
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"SyncDriver(deadline_s={self.settings.deadline_s}, breakers={sorted(self._breakers)})"
        )


class AsyncDriver(_DriverBase):
    """Sends a source's requests with ``httpx.AsyncClient`` (asyncio); use one per event loop."""

    def __init__(
        self,
        settings: RemoteSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings, clock)
        self._transport = transport
        # Requests wait for one of max_connections slots, each with its own
        # one-connection client, never in one shared httpcore pool: see _slots.
        self._slots: ConnectionSlots | None = None

    async def fetch(
        self,
        source: HttpSource,
        codes: Sequence[str],
        *,
        include_related: bool = False,
        deadline: float | None = None,
    ) -> Records:
        """Records of every code, or raise the first chunk's error (see :meth:`SyncDriver.fetch`)."""
        result = await self.fetch_many(
            source, codes, include_related=include_related, deadline=deadline
        )
        return dict(result.unwrap())

    async def fetch_many(
        self,
        source: HttpSource,
        codes: Sequence[str],
        *,
        include_related: bool = False,
        deadline: float | None = None,
    ) -> FetchResult:
        """Records of every code whose chunk succeeded, and the errors of the others."""
        end = self._deadline(deadline)
        parts = chunks(codes, source.max_batch)

        async def run(part: list[str]) -> Records | SourceError:
            try:
                return await self._drive(self._flow(source, part, include_related, end))
            except SourceError as exc:
                return exc

        if len(parts) <= 1:
            return self._result(parts, [await run(p) for p in parts])
        gate = asyncio.Semaphore(self.settings.chunk_concurrency)

        async def gated(part: list[str]) -> Records | SourceError:
            async with gate:
                return await run(part)

        tasks = [asyncio.ensure_future(gated(p)) for p in parts]
        try:
            outcomes = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        return self._result(parts, outcomes)

    async def _drive(self, flow: Flow) -> Records:
        reply: Reply = None
        try:
            while True:
                action = advance(flow, reply)
                if isinstance(action, Done):
                    return dict(action.value)
                if isinstance(action, Sleep):
                    await asyncio.sleep(action.seconds)
                    reply = None
                else:
                    reply = await self._send(action)
        finally:
            flow.close()

    async def _send(self, send: Send) -> httpx.Response | SourceError:
        request = send.request
        request.extensions = {**request.extensions, "timeout": self._timeouts(send)}
        body = BodyReader(send, self.settings.max_response_bytes, self._clock)
        started = self._clock()
        slots = self._connection_slots()
        try:
            # waiting for a free connection counts against the deadline too
            async with (
                asyncio.timeout(max(send.deadline - self._clock(), 0.0)),
                slots.client() as client,
            ):
                response = await client.send(request, stream=True)
                try:
                    body.start(response)
                    async for chunk in response.aiter_bytes():
                        body.add(chunk, response)
                finally:
                    await response.aclose()
            return body.finish(response)
        except SourceError as exc:
            return exc
        except httpx.HTTPError as exc:
            return transport_error(exc, send, started, self._clock())
        except TimeoutError:
            return transport_error(httpx.TimeoutException("deadline"), send, started, self._clock())

    def _connection_slots(self) -> ConnectionSlots:
        self._check_fork()
        slots = self._slots
        if slots is None:
            slots = self._slots = ConnectionSlots(self.settings.max_connections, self._transport)
        return slots

    def _forget_after_fork(self) -> None:
        self._slots = None

    async def aclose(self) -> None:
        """Close the connections."""
        slots, self._slots = self._slots, None
        if slots is not None and self._pid == os.getpid():
            await slots.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"AsyncDriver(deadline_s={self.settings.deadline_s}, breakers={sorted(self._breakers)})"
        )
