"""Remote sources: the drivers that send an HTTP adapter's requests, with resilience.

- :class:`SyncDriver` / :class:`AsyncDriver` — send the requests an
  :class:`~creditguard.sources.HttpSource` builds, in chunks of its
  ``max_batch``, within one overall deadline, with retries, a circuit breaker
  per source and a response-size limit.
- :class:`RemoteSettings` — the limits (deadline, attempts, backoff, sizes).
- :class:`CircuitBreaker` — closed / open / half-open, per platform.
- :class:`FetchResult` — a many-code lookup's records and per-code errors.
- :func:`parse_retry_after`, :func:`classify_status`, :class:`Backoff` — the one
  retry toolbox (:mod:`creditguard.remote.retry`), also used by the outbox and
  the adapters.

See ``docs/resilience.md`` for the behaviour and ``docs/adapters.md`` for
writing an adapter.
"""

from __future__ import annotations

from creditguard.remote.breaker import BreakerState, CircuitBreaker
from creditguard.remote.driver import AsyncDriver, SyncDriver
from creditguard.remote.flow import FetchResult
from creditguard.remote.policy import RESPONSE_TOO_LARGE, RemoteSettings, retry_delay
from creditguard.remote.retry import Backoff, StatusClass, classify_status, parse_retry_after

__all__ = [
    "RESPONSE_TOO_LARGE",
    "AsyncDriver",
    "Backoff",
    "BreakerState",
    "CircuitBreaker",
    "FetchResult",
    "RemoteSettings",
    "StatusClass",
    "SyncDriver",
    "classify_status",
    "parse_retry_after",
    "retry_delay",
]
