"""Push events (spec §7) applied to a SQLite mirror: a record upserted, a record removed.

Each event is its own transaction; the rules (a record id held for another
subject is refused, a status change without history is appended, a removal
leaves a tombstone) live in :mod:`creditguard.mirror._rules`, shared with the
PostgreSQL mirror. :class:`PushEvents` is a base of
:class:`~creditguard.mirror.store.SqliteMirror`.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING

from creditguard.mirror import _rules
from creditguard.models import CreditRecord, Subject

__all__ = ["PushEvents"]


class PushEvents:
    """:meth:`upsert` and :meth:`remove`, each in one transaction of the mirror."""

    if TYPE_CHECKING:  # provided by SqliteMirror

        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def upsert(
        self,
        subject: Subject | None,
        record: CreditRecord,
        *,
        subject_code: str | None = None,
        at: str | datetime | date | None = None,
    ) -> str:
        """Insert or update one record (and its subject), in its own transaction.

        Returns ``"added"``, ``"updated"`` or ``"unchanged"``. A record id held
        for another subject is refused (:class:`InvalidRecordError`). When the
        record arrives without ``status_history`` and its status changed, the
        change is appended to the held history, dated ``at`` (the event's
        time; today in CST when absent).
        """
        code, kind, subject, record = _rules.normal_upsert(subject, record, subject_code)
        with self.transaction() as conn:
            held = conn.execute(
                "SELECT subject_code, data FROM records WHERE record_id = ?", (record.record_id,)
            ).fetchone()
            data, outcome = _rules.merge_upsert(held, code, record, at)
            if subject is not None:
                rep = subject.legal_representative
                conn.execute(
                    "INSERT INTO subjects(code, kind, data, legal_rep) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(code) DO UPDATE SET kind=excluded.kind, data=excluded.data, "
                    "legal_rep=excluded.legal_rep",
                    (
                        code,
                        kind,
                        subject.model_dump_json(exclude_none=True),
                        rep.code if rep else None,
                    ),
                )
            if outcome != "unchanged":
                conn.execute(
                    "INSERT INTO records(record_id, subject_code, data) VALUES (?, ?, ?) "
                    "ON CONFLICT(record_id) DO UPDATE SET data = excluded.data",
                    (record.record_id, code, data),
                )
            return outcome

    def remove(
        self, record_id: str, *, subject_code: str, at: str | datetime | date | None = None
    ) -> bool:
        """Mark a record removed, keeping it as a tombstone with its history; True when it was in force.

        ``subject_code`` must be the subject the mirror holds the record for,
        else :class:`InvalidRecordError` and nothing changes (a removal naming
        the wrong subject is not acted on). An unknown or already removed
        record changes nothing and returns False. The removal is appended to
        ``status_history``, dated ``at`` (today in CST when absent), so a
        replay of an earlier day still sees the listing.
        """
        code, _ = _rules.normal_code(subject_code, "subject_code")
        with self.transaction() as conn:
            held = conn.execute(
                "SELECT subject_code, data FROM records WHERE record_id = ?", (record_id,)
            ).fetchone()
            tomb = _rules.tombstone(held, record_id, code, at)
            if tomb is None:
                return False
            conn.execute("UPDATE records SET data = ? WHERE record_id = ?", (tomb, record_id))
            return True
