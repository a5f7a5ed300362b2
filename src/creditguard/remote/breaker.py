"""A circuit breaker per platform, so a dead platform costs microseconds, not timeouts.

::

    closed ──(failure_threshold consecutive failures)──► open
    open ──(reset_after seconds later, first allow())──► half_open (one probe)
    half_open ──probe succeeds──► closed
    half_open ──probe fails──► open (the reset_after wait starts again)

While open, :meth:`CircuitBreaker.allow` answers False without touching the
network. While half-open, only the probe is let through; everyone else fails
fast until the probe reports. A probe that never reports (its caller died or
was cancelled) is given up after ``reset_after`` and another probe is allowed,
so the breaker cannot stick half-open.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Counts consecutive failures of one platform and stops calls while it is down.

    Thread-safe. ``allow`` on a closed breaker takes no lock (one attribute
    read), so a healthy platform pays nothing for it.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_after < 0:
            raise ValueError("reset_after must not be negative")
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probe_started: float | None = None

    @property
    def state(self) -> BreakerState:
        """``closed``, ``open`` or ``half_open``."""
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far (reset by a success)."""
        return self._failures

    def allow(self) -> bool:
        """True when a call may go out now; False means fail fast."""
        if self._state == "closed":
            return True
        with self._lock:
            return self._allow_locked()

    def _allow_locked(self) -> bool:
        now = self._clock()
        if self._state == "closed":
            return True
        if self._state == "open":
            if now - self._opened_at < self.reset_after:
                return False
            self._state = "half_open"
            self._probe_started = now
            return True
        # half-open: one probe at a time, unless the probe was abandoned
        if self._probe_started is not None and now - self._probe_started < max(
            self.reset_after, 1e-9
        ):
            return False
        self._probe_started = now
        return True

    def record_success(self) -> None:
        """The platform answered sanely: close the breaker and forget past failures."""
        if self._state == "closed" and self._failures == 0:
            return
        with self._lock:
            self._state = "closed"
            self._failures = 0
            self._probe_started = None

    def record_failure(self) -> None:
        """The platform failed (timeout, 5xx, 429, garbage): count it, maybe open."""
        with self._lock:
            if self._state == "half_open":
                self._trip()
                return
            self._failures += 1
            if self._state == "closed" and self._failures >= self.failure_threshold:
                self._trip()

    def _trip(self) -> None:
        self._state = "open"
        self._opened_at = self._clock()
        self._probe_started = None

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(state={self._state!r}, failures={self._failures}, "
            f"threshold={self.failure_threshold}, reset_after={self.reset_after})"
        )
