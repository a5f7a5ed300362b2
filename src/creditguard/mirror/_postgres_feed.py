"""The push feed's state in the mirror's PostgreSQL database: cursor, applied ids, inbox.

:class:`PostgresFeedState` shares the mirror's connection, so a page's
changes and its cursor commit in one transaction
(:meth:`~creditguard.mirror._postgres.PostgresMirror.page`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from creditguard.mirror._postgres import PostgresMirror

__all__ = ["PostgresFeedState"]


class PostgresFeedState:
    """The push feed's state (like :class:`creditguard.push_feed.FeedState`) in the mirror's database.

    It shares the mirror's connection, so :meth:`commit_page` joins the
    page's transaction (:meth:`PostgresMirror.page`).
    """

    def __init__(self, mirror: PostgresMirror) -> None:
        self.mirror = mirror
        self.path = mirror.where

    def cursor(self, feed: str = "push") -> str | None:
        """The persisted cursor of ``feed`` (None: from the beginning)."""
        with self.mirror.transaction() as c:
            row = c.execute(
                "SELECT cursor FROM mirror_feed_cursor WHERE feed = %(f)s", {"f": feed}
            ).fetchone()
        return None if row is None else str(row[0])

    def applied(self, event_ids: Collection[str]) -> set[str]:
        """Those of ``event_ids`` already applied."""
        if not event_ids:
            return set()
        with self.mirror.transaction() as c:
            rows = c.execute(
                "SELECT event_id FROM mirror_feed_applied WHERE event_id = ANY(%(e)s)",
                {"e": list(event_ids)},
            ).fetchall()
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
        """Record applied ids, counters and (when given) the new cursor in one transaction."""
        from creditguard.push_feed import APPLIED_KEEP_S

        now = time.time()
        with self.mirror.transaction() as c:
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO mirror_feed_applied VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    [(e, now) for e in event_ids],
                )
                cur.executemany(
                    "DELETE FROM mirror_feed_inbox WHERE event_id = %s", [(e,) for e in settled]
                )
                cur.executemany(
                    "INSERT INTO mirror_feed_counters VALUES (%s, %s) ON CONFLICT (name) "
                    "DO UPDATE SET n = mirror_feed_counters.n + EXCLUDED.n",
                    list(counts.items()),
                )
            if cursor is not None:
                c.execute(
                    "INSERT INTO mirror_feed_cursor VALUES (%(f)s, %(c)s) ON CONFLICT (feed) "
                    "DO UPDATE SET cursor = EXCLUDED.cursor",
                    {"f": feed, "c": cursor},
                )
            c.execute(
                "DELETE FROM mirror_feed_applied WHERE applied_at < %(t)s",
                {"t": now - APPLIED_KEEP_S},
            )

    def counters(self) -> dict[str, int]:
        """Totals kept across runs."""
        rows = self.mirror._read("SELECT name, n FROM mirror_feed_counters ORDER BY name")
        return {str(n): int(v) for n, v in rows}

    def store_event(self, event: Any) -> bool:
        """Keep a webhook-delivered event until applied; False when its id was seen already."""
        with self.mirror.transaction() as c:
            if c.execute(
                "SELECT 1 FROM mirror_feed_applied WHERE event_id = %(e)s", {"e": event.event_id}
            ).fetchone():
                return False
            cur = c.execute(
                "INSERT INTO mirror_feed_inbox (event_id, body, received_at) "
                "VALUES (%(e)s, %(b)s, %(t)s) ON CONFLICT DO NOTHING",
                {
                    "e": event.event_id,
                    "b": json.dumps(event.to_dict(), ensure_ascii=False),
                    "t": time.time(),
                },
            )
            return cur.rowcount == 1

    def stored_events(self, limit: int = 1000) -> list[Any]:
        """Webhook events not applied yet, in arrival order."""
        from creditguard.channels import PushEvent

        rows = self.mirror._read(
            "SELECT body FROM mirror_feed_inbox ORDER BY seq LIMIT %(n)s", {"n": limit}
        )
        return [PushEvent.from_dict(json.loads(r[0])) for r in rows]

    def first_use(self, replay_key: str, *, now: float, window_s: float = 900.0) -> bool:
        """Record a pushed request's replay key; False when it was seen within the window."""
        with self.mirror.transaction() as c:
            c.execute(
                "DELETE FROM mirror_feed_replays WHERE seen_at < %(t)s", {"t": now - window_s}
            )
            cur = c.execute(
                "INSERT INTO mirror_feed_replays VALUES (%(k)s, %(t)s) ON CONFLICT DO NOTHING",
                {"k": replay_key, "t": now},
            )
            return cur.rowcount == 1
