"""The async driver's connection slots: one small client per slot, handed out in order.

httpcore's connection pool (1.0.x) re-examines every connection for every
queued request whenever a request starts or ends, and for each idle
connection counts all the idle ones again and polls its socket: with 64
connections that is thousands of calls per state change. Under 500 concurrent
checks it was four fifths of the event loop's CPU (about 12 ms per check),
which made the loop run late and checks miss their deadlines.

So the driver does not share one 64-connection pool. It holds
``max_connections`` slots; a request waits for a free slot (first come, first
served: ``asyncio.Semaphore`` hands a released slot to the longest waiter) and
sends through that slot's own ``httpx.AsyncClient``, whose pool holds one
connection. Each pool's bookkeeping is then constant, the cap on connections
is the same, and the most recently used slot is taken first, so a few hot
connections are kept alive and the others expire.

With a transport given (tests, ``httpx.MockTransport``, a caller's own
transport) every slot shares one client over that transport: its pooling is
the transport's business.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

__all__ = ["ConnectionSlots"]


class ConnectionSlots:
    """``size`` slots, each with a client of one connection (created on first use)."""

    __slots__ = ("_clients", "_free", "_gate", "_shared", "_ssl", "_transport")

    def __init__(self, size: int, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._gate = asyncio.Semaphore(size)
        # A stack: the slot released last is taken first (its connection is warm).
        self._free = list(range(size - 1, -1, -1))
        self._clients: list[httpx.AsyncClient | None] = [None] * size
        self._transport = transport
        self._shared: httpx.AsyncClient | None = None
        self._ssl: ssl.SSLContext | None = None

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """Wait for a free slot and lend its client until the block ends."""
        async with self._gate:
            slot = self._free.pop()
            try:
                yield self._client(slot)
            finally:
                self._free.append(slot)

    @property
    def in_use(self) -> int:
        """Slots lent out now."""
        return len(self._clients) - len(self._free)

    def _client(self, slot: int) -> httpx.AsyncClient:
        if self._transport is not None:
            if self._shared is None:
                self._shared = httpx.AsyncClient(transport=self._transport, follow_redirects=False)
            return self._shared
        client = self._clients[slot]
        if client is None:
            if self._ssl is None:
                # One certificate store for all slots (loading it costs milliseconds).
                self._ssl = httpx.create_ssl_context()
            client = httpx.AsyncClient(
                verify=self._ssl,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                follow_redirects=False,
            )
            self._clients[slot] = client
        return client

    async def aclose(self) -> None:
        """Close every client created so far."""
        clients = [c for c in self._clients if c is not None]
        if self._shared is not None:
            clients.append(self._shared)
        self._clients = [None] * len(self._clients)
        self._shared = None
        for client in clients:
            await client.aclose()
