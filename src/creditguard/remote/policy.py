"""How hard the drivers try: settings, and the retry decision as a pure function.

:func:`retry_delay` is the whole retry policy. Given the error of one attempt
it either returns how long to wait before the next attempt or raises the
error that ends the lookup:

- a :class:`~creditguard.errors.SourceRefused` (4xx) is raised as is: never retried;
- an oversized response (code ``RESPONSE_TOO_LARGE``) is raised as is: the same
  request would get the same answer;
- after ``max_attempts`` attempts the last error is raised;
- the wait is :attr:`RemoteSettings.backoff` (the project's one
  :class:`~creditguard.remote.retry.Backoff`), but never less than the error's
  ``retry_after`` (429/503 ``Retry-After``);
- when that wait would end at or after the deadline, it gives up at once with
  :class:`~creditguard.errors.DeadlineExceeded` carrying the last error's text,
  instead of sleeping into a timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

from creditguard.errors import DeadlineExceeded, SourceError, SourceRefused, SourceUnavailable
from creditguard.remote.retry import Backoff

__all__ = ["RESPONSE_TOO_LARGE", "RemoteSettings", "deadline_exceeded", "retry_delay"]

#: ``SourceError.code`` of a response refused because its body exceeds the size limit.
RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"


@dataclass(frozen=True, slots=True)
class RemoteSettings:
    """Limits of the HTTP drivers; the defaults follow spec §§1, 3 and 9.

    Times are in seconds. ``deadline_s`` is the budget of one check, all
    attempts and waits included; ``max_response_bytes`` the largest body read
    (spec §1: 8 MiB); ``max_connections`` the pool size per driver (spec §9:
    64 per platform); ``chunk_concurrency`` how many batches of one fetch are
    in flight at once.
    """

    deadline_s: float = 0.8
    max_attempts: int = 4
    backoff_initial: float = 0.05
    backoff_max: float = 1.0
    jitter: float = 0.05
    max_response_bytes: int = 8 * 1024 * 1024
    max_connections: int = 64
    chunk_concurrency: int = 8
    breaker_threshold: int = 5
    breaker_reset_s: float = 10.0
    connect_timeout_s: float = 1.0

    def __post_init__(self) -> None:
        positive = {
            "deadline_s": self.deadline_s,
            "max_attempts": self.max_attempts,
            "max_response_bytes": self.max_response_bytes,
            "max_connections": self.max_connections,
            "chunk_concurrency": self.chunk_concurrency,
            "breaker_threshold": self.breaker_threshold,
            "connect_timeout_s": self.connect_timeout_s,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"RemoteSettings.{name} must be positive, got {value!r}")
        for name, value in {
            "backoff_initial": self.backoff_initial,
            "backoff_max": self.backoff_max,
            "jitter": self.jitter,
            "breaker_reset_s": self.breaker_reset_s,
        }.items():
            if value < 0:
                raise ValueError(f"RemoteSettings.{name} must not be negative, got {value!r}")

    @property
    def backoff(self) -> Backoff:
        """The wait after a failed attempt: ``backoff_initial`` doubling up to
        ``backoff_max``, plus ``0 … jitter`` seconds at random."""
        return Backoff(
            base_s=self.backoff_initial,
            max_s=self.backoff_max,
            jitter_ratio=0.0,
            jitter_s=self.jitter,
        )


def deadline_exceeded(last: SourceError | None, *, source: str | None) -> DeadlineExceeded:
    """The error ending a lookup whose deadline ran out, carrying the last error's text."""
    if last is None:
        return DeadlineExceeded("deadline exceeded before the request could be sent", source=source)
    text = str(last)
    if last.source and text.startswith(f"{last.source}: "):
        text = text[len(last.source) + 2 :]
    exc = DeadlineExceeded(f"deadline exceeded; last error: {text}", source=last.source or source)
    # Keep the last error's details as attributes without repeating them in the text.
    exc.status, exc.code, exc.excerpt, exc.retry_after = (
        last.status,
        last.code,
        last.excerpt,
        last.retry_after,
    )
    return exc


def retry_delay(
    error: SourceError,
    attempt: int,
    *,
    now: float,
    deadline: float,
    settings: RemoteSettings,
) -> float:
    """Seconds to wait before attempt ``attempt + 1``, or raise the error that ends the lookup.

    ``now`` and ``deadline`` are ``time.monotonic()`` values.
    """
    if isinstance(error, SourceRefused) or not isinstance(error, SourceUnavailable):
        raise error
    if isinstance(error, DeadlineExceeded) or error.code == RESPONSE_TOO_LARGE:
        raise error
    if attempt >= settings.max_attempts:
        raise error
    if now >= deadline:  # cut at the deadline: no wait could fit (and none is drawn)
        raise deadline_exceeded(error, source=error.source)
    wait = settings.backoff.delay(attempt)
    if error.retry_after is not None:
        wait = max(wait, error.retry_after)
    if now + wait >= deadline:
        raise deadline_exceeded(error, source=error.source)
    return wait
