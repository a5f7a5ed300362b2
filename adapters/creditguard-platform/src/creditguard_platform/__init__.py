"""creditguard adapter for credit platform API v1.

- :class:`PlatformSource` — subject records (spec §4), an ``HttpSource`` the
  guard's drivers send; registered as source type ``platform``.
- :class:`PlatformClient` — request builders and parsers for measure lists,
  the push feed, cases, supervision events and disclosures.
- :func:`error_from_response` — spec §3 errors as creditguard exceptions.
"""

from __future__ import annotations

from creditguard_platform.client import MeasureListAnswer, PlatformClient, PushPage, Signer
from creditguard_platform.errors import error_from_response
from creditguard_platform.source import MAX_BATCH, EtagStore, PlatformSource

__all__ = [
    "MAX_BATCH",
    "EtagStore",
    "MeasureListAnswer",
    "PlatformClient",
    "PlatformSource",
    "PushPage",
    "Signer",
    "error_from_response",
]
