"""What a record source is: the protocol adapters implement.

Two kinds, both free of retries, deadlines and caching (the guard's drivers
do that, once, for every source):

- a :class:`LocalSource` answers in-process (the SQLite mirror): ``lookup``.
- an :class:`HttpSource` only *translates*: ``exchange`` is a generator that
  yields the ``httpx.Request`` objects it needs and receives each
  ``httpx.Response`` (fully read, at most ``max_response_bytes``), then
  returns the records. The sync guard sends them with ``httpx.Client``, the
  async guard with ``httpx.AsyncClient``; the adapter code is the same.

An adapter reports trouble by raising :class:`~creditguard.errors.SourceUnavailable`
(temporary: the driver retries within the check's deadline, honouring
``retry_after``) or :class:`~creditguard.errors.SourceRefused` (permanent).
Network errors and timeouts are turned into ``SourceUnavailable`` by the driver.

A local source may also offer ``absent(code) -> datetime | None`` (see
:class:`MembershipProbe`): the time of its data when it is *certain* it holds
nothing for ``code``, else None. The guard asks it first and decides a clean
subject without a lookup; any doubt (None, an exception) takes the usual
lookup, so a probe can make a check faster, never more lenient.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from creditguard.models import SubjectRecords

if TYPE_CHECKING:
    import httpx

__all__ = ["Exchange", "HttpSource", "LocalSource", "MembershipProbe", "RecordSource"]

#: The generator an HttpSource returns: yields requests, receives responses, returns records.
Exchange = Generator["httpx.Request", "httpx.Response", Mapping[str, SubjectRecords]]


@runtime_checkable
class LocalSource(Protocol):
    """A source answering in-process (no network)."""

    name: str

    def lookup(
        self, codes: Sequence[str], *, include_related: bool = False
    ) -> Mapping[str, SubjectRecords]:
        """Records of each code; a code the source has never heard of maps to ``found=False``."""
        ...


@runtime_checkable
class MembershipProbe(Protocol):
    """A local source that can tell, without a lookup, that it holds nothing for a code."""

    def absent(self, code: str) -> datetime | None:
        """When this source's data was last loaded, if it certainly holds nothing for ``code``.

        None whenever it may hold something or cannot tell now (data not
        loaded, too old, unreadable): the guard then looks the code up as
        usual, and that lookup reports any trouble. Never None-for-clean and
        never a datetime for a code it holds: answering is optional, being
        right is not.
        """
        ...


@runtime_checkable
class HttpSource(Protocol):
    """A source reached over HTTP; builds requests and parses responses only."""

    name: str
    #: codes per exchange (the driver splits larger lookups)
    max_batch: int
    #: base URL the requests are built against (for the driver's connection pool)
    base_url: str

    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        """Yield requests for ``codes`` and return their records keyed by code."""
        ...


RecordSource = LocalSource | HttpSource
