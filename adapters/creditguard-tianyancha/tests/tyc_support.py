"""Test helpers: fixtures from ``data/`` and a tiny driver for the exchange generator."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from creditguard.models import SubjectRecords
from creditguard.sources import Exchange

DATA = Path(__file__).parent / "data"

Handler = Callable[[httpx.Request], httpx.Response]


def load(name: str) -> Any:
    """A JSON fixture from ``tests/data``."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def drive(
    exchange: Exchange, handler: Handler
) -> tuple[Mapping[str, SubjectRecords], list[httpx.Request]]:
    """Run ``exchange`` to the end, answering each request with ``handler``.

    Returns the exchange's result and the requests it made. No retries: an
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


def by_page(*bodies: Any) -> Handler:
    """A handler answering page ``pageNum`` with ``bodies[pageNum - 1]`` (JSON)."""

    def handle(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["pageNum"])
        return httpx.Response(200, json=bodies[page - 1])

    return handle


def always(status: int, **kwargs: Any) -> Handler:
    """A handler answering every request with ``httpx.Response(status, **kwargs)``."""
    return lambda request: httpx.Response(status, **kwargs)
