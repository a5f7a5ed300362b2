"""The durable outbox: every case, response and feedback is stored before the call returns.

::

    CaseRecorder / PushFeed ──enqueue──► Outbox (SqliteOutbox | PostgresOutbox | enqueue_in)
                                            │ claim (lease) ─► Deliverer ─► channel ─► platform
                                            └─ mark delivered / retry (backoff) / dead (refusal)

Items hold facts, not requests: the platform's channel (:mod:`creditguard.channels`)
builds each request at send time. Delivery is at least once with a
deterministic ``Idempotency-Key`` per item, so the platform sees each fact once
in effect. See ``docs/cases-and-outbox.md``.
"""

from creditguard.outbox._deliver import DEFAULT_LEASE_S, Attempt, Backoff, Deliverer
from creditguard.outbox._item import (
    CaseEntry,
    ClaimedItem,
    ItemInfo,
    ItemKind,
    Outbox,
    OutboxItem,
    OutboxStatus,
    encode_payload,
    idempotency_key,
)
from creditguard.outbox._postgres import PostgresOutbox
from creditguard.outbox._sqlite import SqliteOutbox
from creditguard.outbox._through import create_schema, enqueue_in
from creditguard.outbox._worker import DeliveryWorker

__all__ = [
    "DEFAULT_LEASE_S",
    "Attempt",
    "Backoff",
    "CaseEntry",
    "ClaimedItem",
    "Deliverer",
    "DeliveryWorker",
    "ItemInfo",
    "ItemKind",
    "Outbox",
    "OutboxItem",
    "OutboxStatus",
    "PostgresOutbox",
    "SqliteOutbox",
    "create_schema",
    "encode_payload",
    "enqueue_in",
    "idempotency_key",
    "open_outbox",
]


def open_outbox(target: str) -> Outbox:
    """An outbox from a path (SQLite) or a ``postgresql://`` / ``postgres://`` DSN."""
    from creditguard.journal_pg import is_dsn

    if is_dsn(target):
        return PostgresOutbox(target)
    return SqliteOutbox(target)
