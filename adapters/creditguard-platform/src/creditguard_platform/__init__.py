"""creditguard adapter for credit platform API v1.

- :class:`PlatformSource` — subject records (spec §4), an ``HttpSource`` the
  guard's drivers send; registered as source type ``platform``.
- :class:`PlatformChannel` — cases and feedback (§6), the push feed (§7.1)
  and webhook pushes (§7.2); registered as channel type ``platform``.
- :class:`PlatformAuth` — the one signer of spec §2 (an ``httpx.Auth``), and
  :func:`verify` its counterpart.
- :class:`PlatformClient` — request builders and parsers for measure lists,
  the push feed, cases, supervision events and disclosures.
- :func:`error_from_response` — spec §3 errors as creditguard exceptions.
"""

from __future__ import annotations

from creditguard_platform.auth import NonceCache, PlatformAuth, verify
from creditguard_platform.channel import PlatformChannel
from creditguard_platform.client import MeasureListAnswer, PlatformClient, RequestBuilder
from creditguard_platform.errors import error_from_response
from creditguard_platform.source import MAX_BATCH, EtagStore, PlatformSource

__all__ = [
    "MAX_BATCH",
    "EtagStore",
    "MeasureListAnswer",
    "NonceCache",
    "PlatformAuth",
    "PlatformChannel",
    "PlatformClient",
    "PlatformSource",
    "RequestBuilder",
    "error_from_response",
    "verify",
]
