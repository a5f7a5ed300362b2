"""Faults the reference platform can inject, and the schedule that picks them.

A :class:`Fault` says what goes wrong (``kind`` and its parameters), for which
requests (``path`` prefix relative to the API base, ``method``) and how often
(``times`` next matching requests, or ``None`` for every one until removed).
Build them with the class methods::

    platform.inject(Fault.status(429, retry_after=2, times=1))
    with platform.inject(Fault.latency(0.5, path="/v1/subjects")):
        ...

Each transport plays a fault the way a real network would in its medium:
over loopback a reset is a TCP RST and a truncated body is a short read
against a larger ``Content-Length``; in-process they become the
``httpx`` exceptions or cut bodies a client would see.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

__all__ = ["Fault", "FaultKind", "FaultSchedule", "Injection"]

FaultKind = Literal[
    "latency", "status", "garbage", "truncated", "drip", "reset", "oversize", "down"
]

_GARBAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body>"
    b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"
)


@dataclass(eq=False)
class Fault:
    """One injected fault; ``remaining`` counts down under the schedule's lock."""

    kind: FaultKind
    path: str = ""
    method: str | None = None
    times: int | None = None
    seconds: float = 0.0
    status_code: int = 0
    body: bytes | None = None
    retry_after: int | None = None
    bytes_per_second: float = 0.0
    n_bytes: int = 0
    until: float | None = None
    remaining: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.remaining = self.times
        if self.method is not None:
            self.method = self.method.upper()

    # --- constructors ----------------------------------------------------------------

    @classmethod
    def latency(cls, seconds: float, **match: Any) -> Fault:
        """Answer normally, ``seconds`` late."""
        return cls("latency", seconds=seconds, **match)

    @classmethod
    def status(
        cls,
        code: int,
        body: bytes | str | None = None,
        *,
        retry_after: int | None = None,
        **match: Any,
    ) -> Fault:
        """Answer ``code`` with the spec's error body (or ``body``), and ``Retry-After`` when given."""
        raw = body.encode() if isinstance(body, str) else body
        return cls("status", status_code=code, body=raw, retry_after=retry_after, **match)

    @classmethod
    def rate_limited(cls, retry_after: int = 1, **match: Any) -> Fault:
        """429 ``RATE_LIMITED`` with ``Retry-After``."""
        return cls.status(429, retry_after=retry_after, **match)

    @classmethod
    def garbage(cls, status_code: int = 502, **match: Any) -> Fault:
        """A gateway's HTML error page instead of the JSON error shape."""
        return cls("garbage", status_code=status_code, body=_GARBAGE, **match)

    @classmethod
    def truncated(cls, **match: Any) -> Fault:
        """The real 200 answer cut in the middle of its JSON."""
        return cls("truncated", **match)

    @classmethod
    def drip(cls, bytes_per_second: float, **match: Any) -> Fault:
        """The real answer, its body sent slowly at ``bytes_per_second``."""
        return cls("drip", bytes_per_second=bytes_per_second, **match)

    @classmethod
    def reset(cls, **match: Any) -> Fault:
        """Close the connection without answering."""
        return cls("reset", **match)

    @classmethod
    def oversize(cls, n_bytes: int = 9 * 1024 * 1024, **match: Any) -> Fault:
        """A 200 whose streamed body is ``n_bytes`` long (over the client's 8 MiB limit by default)."""
        return cls("oversize", n_bytes=n_bytes, **match)

    @classmethod
    def down(cls, for_seconds: float | None = None, **match: Any) -> Fault:
        """Every matching request fails to connect, for ``for_seconds`` or until removed."""
        until = None if for_seconds is None else time.monotonic() + for_seconds
        return cls("down", until=until, **match)

    # --- matching ----------------------------------------------------------------------

    def matches(self, method: str, path: str) -> bool:
        """True when this fault covers ``method`` and the API-relative ``path``."""
        if self.method is not None and self.method != method:
            return False
        return path.startswith(self.path)

    @property
    def spent(self) -> bool:
        """True once the fault has no uses left or its time ran out."""
        if self.remaining is not None and self.remaining <= 0:
            return True
        return self.until is not None and time.monotonic() >= self.until


@dataclass(frozen=True)
class Chosen:
    """The faults picked for one request: total extra delay and at most one disruptive fault."""

    delay: float = 0.0
    fault: Fault | None = None


class FaultSchedule:
    """The faults in force, in insertion order; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, *faults: Fault) -> Injection:
        """Put ``faults`` in force; the returned handle removes them (also as a context manager)."""
        with self._lock:
            self._faults.extend(faults)
        return Injection(self, faults)

    def remove(self, *faults: Fault) -> None:
        """Take ``faults`` out of force (missing ones are ignored)."""
        with self._lock:
            self._faults = [f for f in self._faults if all(f is not g for g in faults)]

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def __iter__(self) -> Iterator[Fault]:
        with self._lock:
            return iter(list(self._faults))

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)

    def choose(self, method: str, path: str) -> Chosen:
        """Consume one use of each fault matching this request.

        Latency faults add up; the first other matching fault decides what
        goes wrong (later ones are not consumed).
        """
        delay = 0.0
        chosen: Fault | None = None
        with self._lock:
            self._faults = [f for f in self._faults if not f.spent]
            for f in self._faults:
                if not f.matches(method, path):
                    continue
                if f.kind == "latency":
                    delay += f.seconds
                elif chosen is None:
                    chosen = f
                else:
                    continue
                if f.remaining is not None:
                    f.remaining -= 1
        return Chosen(delay, chosen)


class Injection(AbstractContextManager["Injection"]):
    """Handle on injected faults; ``remove()`` or leaving the ``with`` block takes them out."""

    def __init__(self, schedule: FaultSchedule, faults: tuple[Fault, ...]) -> None:
        self._schedule = schedule
        self.faults = faults

    def remove(self) -> None:
        """Take these faults out of force."""
        self._schedule.remove(*self.faults)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()
