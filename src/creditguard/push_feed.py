"""The push feed (定向推送, spec §7): read it through the platform's channel, apply each event once.

Events arrive at least once; each ``event_id`` is applied once and recorded,
and the cursor is persisted only after its page was applied. Applying is
idempotent (an upsert, a removal, a response with a deterministic key), so
a crash between applying an event and recording it re-applies it harmlessly.
Unknown event types are skipped and counted. The same :class:`FeedState`
stores events received by webhook (:mod:`creditguard.webhook`) until
:meth:`PushFeed.apply_stored` applies them. Events are
:class:`~creditguard.channels.PushEvent` s: the channel reads the wire format.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from creditguard._files import prepare_private_file
from creditguard.cases import CaseRecorder
from creditguard.channels import KNOWN_EVENT_TYPES, Channel, PushEvent
from creditguard.codes import parse_code
from creditguard.errors import InputError, SourceUnavailable, StorageError
from creditguard.models import CreditRecord, Subject

__all__ = ["FeedReport", "FeedState", "MirrorLike", "PushFeed"]

log = logging.getLogger("creditguard.push_feed")
#: How long applied event ids are kept (both feed stores): duplicates of a push come
#: within hours; keep ids far longer.
APPLIED_KEEP_S = 30 * 86400.0


class MirrorLike(Protocol):
    """What sync needs of the local mirror (``creditguard.mirror.SqliteMirror`` fits)."""

    def upsert(
        self,
        subject: Subject | None,
        record: CreditRecord,
        *,
        subject_code: str | None = None,
        at: str | None = None,
    ) -> Any: ...

    def remove(self, record_id: str, *, subject_code: str, at: str | None = None) -> bool: ...

    def mark_synced(self) -> None: ...


@dataclass
class FeedReport:
    """What one sync run did."""

    pages: int = 0
    applied: int = 0
    duplicates: int = 0
    unknown: int = 0
    rejected: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    cursor: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready mapping."""
        return {
            "pages": self.pages,
            "applied": self.applied,
            "duplicates": self.duplicates,
            "unknown": self.unknown,
            "rejected": self.rejected,
            "by_type": dict(self.by_type),
            "cursor": self.cursor,
        }


class FeedState:
    """Cursor, applied event ids, webhook inbox, nonces and counters, in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            prepare_private_file(self.path)  # owner-only: it holds personal data
        except OSError as exc:
            raise StorageError(
                f"sync state {self.path}: cannot create folder: {exc.strerror}"
            ) from exc
        with self._tx() as c:
            c.execute("CREATE TABLE IF NOT EXISTS sync_cursor (feed TEXT PRIMARY KEY, cursor TEXT)")
            c.execute(
                "CREATE TABLE IF NOT EXISTS sync_applied (event_id TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            c.execute(
                "CREATE TABLE IF NOT EXISTS sync_inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                "event_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, received_at REAL NOT NULL)"
            )
            c.execute(
                "CREATE TABLE IF NOT EXISTS feed_replays (replay_key TEXT PRIMARY KEY, seen_at REAL)"
            )
            c.execute(
                "CREATE TABLE IF NOT EXISTS sync_counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL)"
            )

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        # A connection per transaction: simple, thread- and fork-safe, cheap next to fsync.
        with self._lock:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            except sqlite3.Error as exc:
                raise StorageError(f"sync state {self.path}: {exc}") from exc
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise StorageError(f"sync state {self.path}: write failed: {exc}") from exc
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            finally:
                conn.close()

    def cursor(self, feed: str = "push") -> str | None:
        """The persisted cursor of ``feed`` (None: from the beginning)."""
        with self._tx() as c:
            row = c.execute("SELECT cursor FROM sync_cursor WHERE feed = ?", (feed,)).fetchone()
        return None if row is None else str(row[0])

    def applied(self, event_ids: Collection[str]) -> set[str]:
        """Those of ``event_ids`` already applied."""
        if not event_ids:
            return set()
        with self._tx() as c:
            marks = ",".join("?" * len(event_ids))
            rows = c.execute(
                f"SELECT event_id FROM sync_applied WHERE event_id IN ({marks})", list(event_ids)
            )
            return {str(r[0]) for r in rows}

    def commit_page(
        self,
        event_ids: Collection[str],
        counts: Mapping[str, int],
        *,
        cursor: str | None,
        settled: Collection[str] = (),
        feed: str = "push",
    ) -> None:
        """Record applied ids, counters and (when given) the new cursor in one transaction.

        ``settled`` event ids (applied now or before) leave the webhook inbox.
        """
        now = time.time()
        with self._tx() as c:
            c.executemany(
                "INSERT OR IGNORE INTO sync_applied VALUES (?, ?)", [(e, now) for e in event_ids]
            )
            c.executemany("DELETE FROM sync_inbox WHERE event_id = ?", [(e,) for e in settled])
            for name, n in counts.items():
                c.execute(
                    "INSERT INTO sync_counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n",
                    (name, n),
                )
            if cursor is not None:
                c.execute(
                    "INSERT INTO sync_cursor VALUES (?, ?) ON CONFLICT (feed) DO UPDATE SET cursor = excluded.cursor",
                    (feed, cursor),
                )
            c.execute("DELETE FROM sync_applied WHERE applied_at < ?", (now - APPLIED_KEEP_S,))

    def counters(self) -> dict[str, int]:
        """Totals kept across runs (events by type, ``unknown``, ``rejected``)."""
        with self._tx() as c:
            return {
                str(n): int(v)
                for n, v in c.execute("SELECT name, n FROM sync_counters ORDER BY name")
            }

    def store_event(self, event: PushEvent) -> bool:
        """Keep a webhook-delivered event until applied; False when its id was seen already."""
        event_id = event.event_id
        with self._tx() as c:
            if c.execute("SELECT 1 FROM sync_applied WHERE event_id = ?", (event_id,)).fetchone():
                return False
            cur = c.execute(
                "INSERT OR IGNORE INTO sync_inbox (event_id, body, received_at) VALUES (?, ?, ?)",
                (event_id, json.dumps(event.to_dict(), ensure_ascii=False), time.time()),
            )
            return cur.rowcount == 1

    def stored_events(self, limit: int = 1000) -> list[PushEvent]:
        """Webhook events not applied yet, in arrival order."""
        with self._tx() as c:
            rows = c.execute(
                "SELECT body FROM sync_inbox ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [PushEvent.from_dict(json.loads(r[0])) for r in rows]

    def first_use(self, replay_key: str, *, now: float, window_s: float = 900.0) -> bool:
        """Record a pushed request's replay key; False when it was seen within the window.

        Kept in the state file, so every process receiving pushes (gunicorn
        workers) refuses a replay another one already accepted.
        """
        with self._tx() as c:
            c.execute("DELETE FROM feed_replays WHERE seen_at < ?", (now - window_s,))
            cur = c.execute("INSERT OR IGNORE INTO feed_replays VALUES (?, ?)", (replay_key, now))
            return cur.rowcount == 1


class PushFeed:
    """Applies push events to a mirror, once each, and answers platform-initiated cases.

    ``channel`` reads the platform's feed (needed by :meth:`pull` only).
    ``on_invalidate(subject_code)`` is called for every subject whose records
    changed, so cached records are dropped. ``cases`` (with ``implemented``,
    the measure codes this unit carries out) answers ``case.initiated``.
    """

    def __init__(
        self,
        mirror: MirrorLike,
        state: FeedState,
        *,
        channel: Channel | None = None,
        cases: CaseRecorder | None = None,
        implemented: Collection[str] = (),
        on_invalidate: Callable[[str], None] | None = None,
        on_measure_list: Callable[[str, str], None] | None = None,
    ) -> None:
        self.mirror = mirror
        self.state = state
        self.channel = channel
        self.cases = cases
        self.implemented = frozenset(implemented)
        self.on_invalidate = on_invalidate
        self.on_measure_list = on_measure_list

    # --- applying ----------------------------------------------------------------------

    def _apply(self, event: PushEvent, report: FeedReport) -> None:
        kind = event.type
        if kind not in KNOWN_EVENT_TYPES:
            report.unknown += 1
            report.by_type["unknown"] += 1
            return
        try:
            if event.problem is not None:
                raise InputError(event.problem)
            if kind in ("record.added", "record.updated"):
                if event.record is None:
                    raise InputError("no record")
                parse_code(event.subject_code)  # a push about an invalid code is not mirrored
                # No Subject: the event has only the code, and the mirror's subject data must stay.
                self.mirror.upsert(
                    None, event.record, subject_code=event.subject_code, at=event.at or None
                )
            elif kind == "record.removed":
                if not event.record_id:
                    raise InputError("no record_id")
                # The subject must match too: a removal naming another subject is refused.
                self.mirror.remove(
                    event.record_id, subject_code=event.subject_code, at=event.at or None
                )
            elif kind == "case.initiated":
                if self.cases is None:
                    raise InputError("no case recorder configured to answer platform cases")
                self.cases.respond(event, self.implemented)
            elif kind == "measure_list.published" and self.on_measure_list is not None:
                self.on_measure_list(event.region, event.version)
        except (InputError, ValueError) as exc:
            # A malformed event must not block the feed; count it and say which one.
            report.rejected += 1
            report.by_type["rejected"] += 1
            log.warning("push event %s (%s) rejected: %s", event.event_id, kind, _short(exc))
            return
        report.applied += 1
        report.by_type[kind] += 1
        if event.subject_code and kind.startswith("record.") and self.on_invalidate is not None:
            self.on_invalidate(event.subject_code)

    def apply_page(
        self,
        events: Sequence[PushEvent],
        *,
        cursor: str | None,
        report: FeedReport | None = None,
    ) -> FeedReport:
        """Apply one page of events once each, then persist ids and ``cursor`` together."""
        report = report or FeedReport()
        ids = [e.event_id for e in events]
        # A mirror with pages (PostgreSQL) applies the page and records its ids and cursor in
        # one transaction: a sync killed mid-page leaves neither the changes nor the cursor.
        page = getattr(self.mirror, "page", None)
        with page() if callable(page) else contextlib.nullcontext():
            done = self.state.applied([i for i in ids if i])
            before = Counter(report.by_type)
            applied_ids: list[str] = []
            for event in events:
                if not event.event_id or event.event_id in done:
                    report.duplicates += 1
                    continue
                self._apply(event, report)
                done.add(event.event_id)
                applied_ids.append(event.event_id)
            counts = Counter(report.by_type)
            counts.subtract(before)
            self.state.commit_page(
                applied_ids,
                {k: v for k, v in counts.items() if v},
                cursor=cursor,
                settled=[i for i in ids if i],
            )
        report.pages += 1
        if cursor is not None:
            report.cursor = cursor
        return report

    def apply_stored(self, *, limit: int = 1000) -> FeedReport:
        """Apply events the webhook stored (see :mod:`creditguard.webhook`)."""
        report = FeedReport()
        while True:
            events = self.state.stored_events(limit)
            if not events:
                return report
            self.apply_page(events, cursor=None, report=report)

    # --- polling -------------------------------------------------------------------------

    def pull(
        self, client: httpx.Client, *, limit: int = 100, max_pages: int = 10_000
    ) -> FeedReport:
        """Read the feed from the persisted cursor until a page comes back empty.

        Reading the feed to its end (an empty poll counts) marks the mirror
        synced, so it vouches for its data for its ``max_age``.
        """
        if self.channel is None:
            raise InputError("PushFeed.pull needs the platform's channel (channel=...)")
        # A shared mirror (PostgreSQL) lets one process apply the feed at a time; another
        # sync gets FeedBusy (a StorageError) while checks keep answering.
        lock = getattr(self.mirror, "feed_lock", None)
        with lock() if callable(lock) else contextlib.nullcontext():
            return self._pull(client, self.channel, limit=limit, max_pages=max_pages)

    def _pull(
        self, client: httpx.Client, channel: Channel, *, limit: int, max_pages: int
    ) -> FeedReport:
        report = FeedReport(cursor=self.state.cursor())
        for _ in range(max_pages):
            asked = report.cursor
            request = channel.push_request(asked, limit=limit)
            try:
                response = client.send(request)
            except httpx.TransportError as exc:
                raise SourceUnavailable(
                    f"push feed: {type(exc).__name__}: {exc}", source=channel.name
                ) from exc
            page = channel.read_push_page(response)
            self.apply_page(list(page.events), cursor=page.next_cursor, report=report)
            if not page.events or not page.next_cursor or page.next_cursor == asked:
                break
        else:
            return report  # stopped at max_pages: more may be waiting, not read to the end
        mark = getattr(self.mirror, "mark_synced", None)
        if callable(mark):
            mark()
        return report


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
