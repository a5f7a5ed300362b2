"""Helpers for the driver tests: a minimal HttpSource and a scripted mock platform."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from creditguard.errors import SourceRefused, SourceUnavailable
from creditguard.models import SubjectRecords
from creditguard.sources import Exchange


class FakeSource:
    """The smallest HttpSource: POST the codes, get back the found ones."""

    base_url = "http://platform.test"

    def __init__(self, name: str = "fake", max_batch: int = 500) -> None:
        self.name = name
        self.max_batch = max_batch

    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        request = httpx.Request(
            "POST",
            f"{self.base_url}/lookup",
            json={"codes": list(codes), "include_related": include_related},
        )
        response = yield request
        status = response.status_code
        if status == 429 or status >= 500:
            after = response.headers.get("retry-after")
            raise SourceUnavailable(
                "unavailable",
                source=self.name,
                status=status,
                retry_after=float(after) if after else None,
            )
        if status >= 400:
            raise SourceRefused("refused", source=self.name, status=status)
        try:
            found = response.json()["found"]
        except (ValueError, KeyError):
            raise SourceUnavailable(
                "not JSON", source=self.name, status=status, excerpt=response.text[:200]
            ) from None
        return {c: SubjectRecords(code=c, found=True) for c in codes if c in found or "*" in found}


Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class Script:
    """A mock platform answering from a list of steps (the last one repeats)."""

    steps: list[Step]
    calls: list[httpx.Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            index = min(len(self.calls), len(self.steps) - 1)
            self.calls.append(request)
        step = self.steps[index]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return httpx.Response(
                step.status_code, headers=step.headers, content=step.content, request=request
            )
        return step(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def ok(found: Sequence[str] = ("*",)) -> httpx.Response:
    return httpx.Response(200, json={"found": list(found)})


def echo_found(request: httpx.Request) -> httpx.Response:
    """Every requested code is found."""
    return httpx.Response(
        200, json={"found": json.loads(request.content)["codes"]}, request=request
    )


class CountingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body of ``chunks`` chunks of ``size`` bytes that counts how many were read."""

    def __init__(self, chunks: int, size: int = 64 * 1024) -> None:
        self.chunks = chunks
        self.size = size
        self.read = 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.chunks):
            self.read += 1
            yield b"x" * self.size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.read += 1
            yield b"x" * self.size


def body_of(stream: CountingStream, **headers: Any) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=stream, request=request)

    return answer
