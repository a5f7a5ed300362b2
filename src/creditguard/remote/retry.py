"""The one retry toolbox: ``Retry-After``, what an HTTP status means, and the backoff.

Every caller that talks HTTP to a remote party reads answers through these
three, so a status means the same thing everywhere:

- :func:`parse_retry_after` reads a ``Retry-After`` header (delta-seconds or
  an HTTP-date); anything else is ignored (``None``), never an error;
- :func:`classify_status` sorts a status into ``success``, ``retryable``
  (408, 425, 429, 5xx), ``auth`` (401, 407) or ``permanent`` (everything else);
- :class:`Backoff` is the exponential backoff with jitter used by the record
  drivers (:mod:`creditguard.remote.policy`) and by the outbox.

The project does not use tenacity: both callers need the wait as a value (the
drivers' flows yield a ``Sleep`` action that a sync or an async driver
performs; the outbox stores the next attempt's time in its database, and the
attempt count outlives the process), so neither can use tenacity's retry
loop, and its wait objects are meant to be called from that loop only.
"""

from __future__ import annotations

import email.utils
import math
import random
import re
import time
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "MAX_RETRY_AFTER_S",
    "Backoff",
    "StatusClass",
    "classify_status",
    "parse_retry_after",
]

MAX_RETRY_AFTER_S: Final = 86_400.0
"""The longest ``Retry-After`` taken at its word (one day); a longer one is cut to it."""

StatusClass = Literal["success", "retryable", "auth", "permanent"]
"""What an HTTP status says about trying again; see :func:`classify_status`."""

# RFC 9110 §10.2.3: delta-seconds is 1*DIGIT, ASCII digits only ("²".isdigit() is True).
_DELTA_SECONDS: Final = re.compile(r"[0-9]{1,12}")
_RETRYABLE_4XX: Final = frozenset({408, 425, 429})
_AUTH: Final = frozenset({401, 407})


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value, or ``None``.

    ``value`` is delta-seconds (``"120"``) or an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``; a date in the past means 0).
    ``now`` is the Unix time a date is measured from (default: the current
    time). Anything else (empty, negative, fractional, non-ASCII digits,
    unparseable dates) is ignored: ``None``. Results are capped at
    :data:`MAX_RETRY_AFTER_S`.
    """
    if not value:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(text)
        seconds = when.timestamp() - (time.time() if now is None else now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)


def classify_status(status: int) -> StatusClass:
    """What ``status`` says about the request that got it.

    ``success``
        2xx.
    ``retryable``
        408 (request timeout), 425 (too early), 429 (rate limited) and every
        5xx: the same request may succeed later.
    ``auth``
        401 and 407: the credentials (or this host's clock, for signed
        requests) were not accepted; retrying at once rarely helps.
    ``permanent``
        everything else (1xx, 3xx, other 4xx): the same request gets the same answer.
    """
    if 200 <= status < 300:
        return "success"
    if status >= 500 or status in _RETRYABLE_4XX:
        return "retryable"
    if status in _AUTH:
        return "auth"
    return "permanent"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter.

    After failed attempt ``n`` (1-based) the base delay is
    ``d = min(max_s, base_s · factorⁿ⁻¹)``. The wait is ``d · (1 − jitter_ratio)``
    plus a random ``0 … jitter_ratio · d``, plus a random ``0 … jitter_s``
    seconds. The defaults (``jitter_ratio`` 0.5) wait between ``d/2`` and ``d``;
    the record drivers use ``jitter_ratio=0`` and a small ``jitter_s``.
    """

    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 300.0
    jitter_ratio: float = 0.5
    jitter_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("base_s", "max_s", "jitter_s"):
            if not getattr(self, name) >= 0:  # also refuses NaN
                raise ValueError(
                    f"Backoff.{name} must not be negative, got {getattr(self, name)!r}"
                )
        if not self.factor >= 1:
            raise ValueError(f"Backoff.factor must be at least 1, got {self.factor!r}")
        if not 0 <= self.jitter_ratio <= 1:
            raise ValueError(f"Backoff.jitter_ratio must be 0 to 1, got {self.jitter_ratio!r}")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        ``rng`` draws the jitter (tests pass a seeded ``random.Random``).
        """
        uniform = random.uniform if rng is None else rng.uniform
        exponent = max(0, attempt - 1)
        try:
            d = min(self.max_s, self.base_s * self.factor**exponent)
        except OverflowError:  # thousands of attempts: long since at the cap
            d = self.max_s
        wait = d * (1 - self.jitter_ratio)
        if self.jitter_ratio:
            wait += uniform(0.0, d * self.jitter_ratio)
        if self.jitter_s:
            wait += uniform(0.0, self.jitter_s)
        return wait
