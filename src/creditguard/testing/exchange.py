"""Run an :class:`~creditguard.sources.HttpSource` exchange against canned answers.

For an adapter's tests. :func:`drive_exchange` runs the exchange generator to
the end with every request answered by a plain function, over
``httpx.MockTransport``, without the guard's driver (so no retries, deadlines
or degradation); :func:`instant_driver` is the guard's real sync driver over
such a function, for testing how the driver treats the adapter's errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from creditguard.models import SubjectRecords
from creditguard.remote.driver import SyncDriver
from creditguard.remote.policy import RemoteSettings
from creditguard.sources import Exchange

__all__ = [
    "Handler",
    "answer_always",
    "answer_in_turn",
    "answer_pages",
    "drive_exchange",
    "instant_driver",
]

Handler = Callable[[httpx.Request], httpx.Response]
"""Answers one request: what ``httpx.MockTransport`` calls."""


def drive_exchange(
    exchange: Exchange, handler: Handler
) -> tuple[Mapping[str, SubjectRecords], list[httpx.Request]]:
    """Run ``exchange`` to the end, answering each request with ``handler``.

    Returns the exchange's result and the requests it made, in order. An
    exception raised by the adapter propagates as it would to the driver.
    """
    sent: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return handler(request)

    with httpx.Client(transport=httpx.MockTransport(recording)) as client:
        try:
            request = next(exchange)
            while True:
                request = exchange.send(client.send(request))
        except StopIteration as stop:
            return stop.value, sent


def answer_pages(param: str, *bodies: Any) -> Handler:
    """A handler answering the page numbered by query ``param`` (from 1) with ``bodies[n - 1]`` as JSON."""

    def handle(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params[param])
        return httpx.Response(200, json=bodies[page - 1])

    return handle


def answer_always(status: int, **kwargs: Any) -> Handler:
    """A handler answering every request with ``httpx.Response(status, **kwargs)``."""
    return lambda request: httpx.Response(status, **kwargs)


def answer_in_turn(*bodies: Any, sent: list[httpx.Request] | None = None) -> Handler:
    """A handler answering the n-th request with ``bodies[n - 1]`` (JSON), then the last again.

    Each request is appended to ``sent`` when given.
    """
    if not bodies:
        raise ValueError("answer_in_turn needs at least one body")
    calls: list[httpx.Request] = [] if sent is None else sent
    start = len(calls)

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=bodies[min(len(calls) - start, len(bodies)) - 1])

    return handle


def instant_driver(handler: Handler, *, deadline_s: float = 5.0) -> SyncDriver:
    """The guard's real sync driver over ``handler``, retrying at once (no backoff, no sleep).

    The deadline is generous so that only the adapter's errors decide the outcome.
    """
    settings = RemoteSettings(deadline_s=deadline_s, backoff_initial=0.0, jitter=0.0)
    return SyncDriver(settings, httpx.MockTransport(handler), sleep=lambda seconds: None)
