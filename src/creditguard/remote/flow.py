"""The drivers' shared state machine: everything but sending and sleeping.

A lookup of many codes is split into chunks of ``source.max_batch``. Each
chunk runs :func:`chunk_flow`, a generator in the style of httpx's auth flows:
it yields :class:`Send` (send this request, reply with the response) and
:class:`Sleep` (wait before the next attempt) actions and returns the chunk's
records. :class:`~creditguard.remote.SyncDriver` and
:class:`~creditguard.remote.AsyncDriver` run the same flows and differ only in
how they perform those two actions, so they behave identically.

A chunk flow:

1. fails fast with ``SourceUnavailable("circuit open")`` when the platform's
   breaker is open, and with ``DeadlineExceeded`` when the deadline has passed;
2. runs the adapter's ``exchange`` generator, forwarding its requests;
3. on ``SourceUnavailable`` records a breaker failure and asks
   :func:`~creditguard.remote.policy.retry_delay` whether and when to try the
   whole exchange again;
4. on a 413 or an oversized response for several codes, splits the chunk in
   halves and looks each half up (spec §3: "split the batch");
5. records a breaker success once the platform answered sanely (a refusal such
   as 400 or 403 is an answer: it says nothing bad about the platform's health).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from creditguard.errors import DeadlineExceeded, SourceError, SourceRefused, SourceUnavailable
from creditguard.models import SubjectRecords
from creditguard.remote.breaker import CircuitBreaker
from creditguard.remote.policy import (
    RESPONSE_TOO_LARGE,
    RemoteSettings,
    deadline_exceeded,
    retry_delay,
)
from creditguard.sources import HttpSource

__all__ = [
    "Action",
    "BodyReader",
    "Done",
    "FetchResult",
    "Flow",
    "Send",
    "Sleep",
    "advance",
    "chunk_flow",
    "chunks",
    "transport_error",
]

Records = Mapping[str, SubjectRecords]


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``request`` and reply with its fully read response (or the error)."""

    request: httpx.Request
    deadline: float
    source: str


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds`` before the next attempt."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Done:
    """The flow finished with ``value``."""

    value: Records


Action = Send | Sleep
#: What a driver sends into a flow: the response, or the error sending failed with.
Reply = httpx.Response | SourceError | None
Flow = Generator[Action, httpx.Response | None, Records]


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of a lookup of many codes, chunk failures included.

    ``records`` holds every code whose chunk succeeded; ``errors`` maps every
    other code to the error its chunk ended with.
    """

    records: Mapping[str, SubjectRecords]
    errors: Mapping[str, SourceError] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every code was looked up."""
        return not self.errors

    def unwrap(self) -> Mapping[str, SubjectRecords]:
        """The records, or raise the error of the first failed chunk."""
        if self.errors:
            raise next(iter(self.errors.values()))
        return self.records


def chunks(codes: Sequence[str], size: int) -> list[list[str]]:
    """Unique ``codes`` (first occurrence kept) in lists of at most ``size``."""
    if size < 1:
        raise ValueError(f"max_batch must be at least 1, got {size}")
    unique = list(dict.fromkeys(codes))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


def advance(flow: Flow, reply: Reply) -> Action | Done:
    """Feed ``reply`` into ``flow`` and return its next action, or :class:`Done`."""
    try:
        if isinstance(reply, SourceError):
            return flow.throw(reply)
        return flow.send(reply)
    except StopIteration as stop:
        return Done(stop.value)


def chunk_flow(
    source: HttpSource,
    codes: Sequence[str],
    *,
    include_related: bool,
    deadline: float,
    breaker: CircuitBreaker,
    settings: RemoteSettings,
    clock: Callable[[], float] = time.monotonic,
) -> Flow:
    """Look up one chunk of codes with retries, deadline, breaker and splitting."""
    attempt = 0
    last: SourceError | None = None
    while True:
        if clock() >= deadline:
            raise deadline_exceeded(last, source=source.name)
        if not breaker.allow():
            raise SourceUnavailable(
                f"circuit open after {breaker.failures} consecutive failures; "
                f"not calling the platform for up to {breaker.reset_after:g} s",
                source=source.name,
                code="CIRCUIT_OPEN",
            )
        attempt += 1
        wait = 0.0
        try:
            result = yield from _exchange(source, codes, include_related, deadline, clock)
            _check_complete(source.name, codes, result)
        except SourceRefused as exc:
            breaker.record_success()
            if exc.status != 413 or len(codes) == 1:
                raise
            split = True
        except DeadlineExceeded:
            raise
        except SourceUnavailable as exc:
            split = exc.code == RESPONSE_TOO_LARGE
            if split:
                breaker.record_success()
                if len(codes) == 1:
                    raise
            else:
                breaker.record_failure()
                last = exc
                wait = retry_delay(exc, attempt, now=clock(), deadline=deadline, settings=settings)
        else:
            breaker.record_success()
            return result
        if split:
            return (
                yield from _halves(
                    source, codes, include_related, deadline, breaker, settings, clock
                )
            )
        if wait > 0:
            yield Sleep(wait)


def _halves(
    source: HttpSource,
    codes: Sequence[str],
    include_related: bool,
    deadline: float,
    breaker: CircuitBreaker,
    settings: RemoteSettings,
    clock: Callable[[], float],
) -> Flow:
    half = len(codes) // 2
    merged: dict[str, SubjectRecords] = {}
    for part in (codes[:half], codes[half:]):
        merged.update(
            (
                yield from chunk_flow(
                    source,
                    part,
                    include_related=include_related,
                    deadline=deadline,
                    breaker=breaker,
                    settings=settings,
                    clock=clock,
                )
            )
        )
    return merged


def _exchange(
    source: HttpSource,
    codes: Sequence[str],
    include_related: bool,
    deadline: float,
    clock: Callable[[], float],
) -> Flow:
    exchange = source.exchange(codes, include_related=include_related)
    try:
        try:
            request = next(exchange)
        except StopIteration as stop:
            first: Records = stop.value
            return first
        while True:
            if clock() >= deadline:
                raise DeadlineExceeded(
                    "deadline exceeded between requests of one exchange", source=source.name
                )
            response = yield Send(request, deadline, source.name)
            assert response is not None  # drivers reply to Send with a response or throw
            try:
                request = exchange.send(response)
            except StopIteration as stop:
                records: Records = stop.value
                return records
    finally:
        exchange.close()


def _check_complete(source: str, codes: Sequence[str], result: Records) -> None:
    missing = [code for code in codes if code not in result]
    if missing:
        raise SourceUnavailable(
            f"malformed answer: {len(missing)} of {len(codes)} requested codes missing",
            source=source,
        )


class BodyReader:
    """Reads a streamed response body up to a size limit and the deadline.

    The limit is checked against ``Content-Length`` before reading anything
    and against the bytes received after every chunk, so at most one network
    chunk beyond the limit is ever held in memory.
    """

    __slots__ = ("_clock", "_deadline", "_limit", "_parts", "_size", "_source")

    def __init__(self, send: Send, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._source = send.source
        self._deadline = send.deadline
        self._limit = limit
        self._clock = clock
        self._parts: list[bytes] = []
        self._size = 0

    def start(self, response: httpx.Response) -> None:
        """Refuse a response whose declared length is over the limit."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            raise self._too_large(response, f"declares {int(declared)} bytes")

    def add(self, chunk: bytes, response: httpx.Response) -> None:
        """Take one chunk; refuse when over the limit or past the deadline."""
        self._size += len(chunk)
        if self._size > self._limit:
            raise self._too_large(response, f"sent more than {self._size - len(chunk)} bytes")
        self._parts.append(chunk)
        if self._clock() >= self._deadline:
            raise SourceUnavailable(
                f"timed out reading the response body after {self._size} bytes",
                source=self._source,
                status=response.status_code,
            )

    def finish(self, response: httpx.Response) -> httpx.Response:
        """A fully read copy of ``response`` holding the decoded body."""
        # The body is already decoded: drop the headers that describe the wire form.
        headers = [
            (k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS
        ]
        extensions = {
            k: v for k, v in response.extensions.items() if k in ("http_version", "reason_phrase")
        }
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=b"".join(self._parts),
            request=response.request,
            extensions=extensions,
        )

    def _too_large(self, response: httpx.Response, what: str) -> SourceUnavailable:
        return SourceUnavailable(
            f"response refused: body {what}, over the limit of {self._limit} bytes",
            source=self._source,
            status=response.status_code,
            code=RESPONSE_TOO_LARGE,
        )


_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


#: A timeout firing this close to the deadline was the deadline's (timers are not exact).
_DEADLINE_SLACK_S = 0.002


def transport_error(exc: httpx.HTTPError, send: Send, started: float, now: float) -> SourceError:
    """The creditguard error for an httpx failure while sending ``send``."""
    if isinstance(exc, httpx.TimeoutException):
        if now >= send.deadline - _DEADLINE_SLACK_S:
            # Cut by the check's deadline: one wording for both drivers, whichever
            # timer fired (the async driver's asyncio.timeout, or the sync driver's
            # per-phase httpx timeouts, which are set to the time left).
            return SourceUnavailable(
                f"timed out at the deadline after {now - started:.3f} s", source=send.source
            )
        kind = type(exc).__name__.removesuffix("Timeout").lower() or "request"
        return SourceUnavailable(
            f"timed out ({kind}) after {now - started:.3f} s", source=send.source
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return SourceRefused(f"cannot send request: {exc}", source=send.source)
    detail = str(exc) or "no detail"
    return SourceUnavailable(f"{type(exc).__name__}: {detail}", source=send.source)
