"""Push sync into the PostgreSQL mirror: one applier at a time, and SIGKILL mid-page loses nothing (issue 13).

A page's mirror changes, its applied event ids and its cursor commit in one
transaction, so after a kill at any moment the mirror holds exactly the
events before its cursor (compared with a SQLite mirror fed those events),
and the next sync carries on from there to the same end state.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from _coredata import mirror_rows, uscc
from _pgmirror import pg_schema_dsn
from creditguard_platform.client import push_event

sys.path.insert(0, str(Path(__file__).parents[1] / "outbox"))
from outbox_helpers import channel

from creditguard.mirror import FeedBusy, PostgresMirror, SqliteMirror
from creditguard.push_feed import FeedState, PushFeed
from creditguard.testing import ReferencePlatform

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

ORGS = [uscc("320100", f"MB{n:06d}") for n in range(40)]
KILLS = 12
PAGE = 15


def busy_platform() -> ReferencePlatform:
    """400 events: additions, status changes and removals over 40 subjects."""
    p = ReferencePlatform()
    rng = random.Random(7)
    held: list[str] = []
    for i in range(400):
        roll = rng.random()
        if held and roll < 0.25:
            p.update_record(
                rng.choice(held), status=rng.choice(["repaired", "rectifying"]), push=True
            )
        elif held and roll < 0.35:
            p.remove_record(held.pop(rng.randrange(len(held))), push=True)
        else:
            held.append(p.add_record(ORGS[i % len(ORGS)], push=True)["record_id"])
    return p


def seeded(m: Any) -> Any:
    import json

    m.import_lines([json.dumps(r, ensure_ascii=False) for r in mirror_rows()])
    return m


def view(m: Any) -> dict[str, Any]:
    got = m.lookup(ORGS)
    return {c: [r.model_dump(mode="json") for r in got[c].records] for c in ORGS}


class SlowMirror(PostgresMirror):
    """Dwells in each upsert so a kill lands inside a page."""

    def upsert(self, *a: Any, **kw: Any) -> str:
        time.sleep(0.003)
        return super().upsert(*a, **kw)


def child(dsn: str, platform: ReferencePlatform) -> None:  # pragma: no cover - forked child
    m = SlowMirror(dsn)
    feed = PushFeed(m, m.feed_state(), channel=channel())
    with httpx.Client(transport=platform.mock_transport()) as client:
        feed.pull(client, limit=PAGE)


def reference(tmp_path: Path, platform: ReferencePlatform, upto: int, n: int) -> dict[str, Any]:
    """A SQLite mirror fed the first ``upto`` events, in pages as sync reads them."""
    ref = seeded(SqliteMirror(tmp_path / f"ref{n}.db"))
    feed = PushFeed(ref, FeedState(tmp_path / f"ref{n}-state.db"))
    events = [push_event(e) for e in platform.events_after(0, upto)]
    for start in range(0, len(events), PAGE):
        feed.apply_page(events[start : start + PAGE], cursor=None)
    out = view(ref)
    ref.close()
    return out


def test_sigkill_mid_page_leaves_mirror_and_cursor_exact(tmp_path: Path) -> None:
    platform = busy_platform()
    total = len(platform.events_after(0, 10_000))
    rng = random.Random(1313)
    with pg_schema_dsn() as dsn:
        m = seeded(PostgresMirror(dsn))
        state = m.feed_state()
        cursors = []
        for n in range(KILLS):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                try:
                    child(dsn, platform)
                finally:
                    os._exit(0)
            time.sleep(rng.uniform(0.05, 0.3))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            cursor = state.cursor()
            upto = int(cursor[2:]) if cursor else 0
            cursors.append(upto)
            # Exactly the events before the cursor are in the mirror, and recorded as applied.
            assert view(m) == reference(tmp_path, platform, upto, n)
            applied = m._read("SELECT COUNT(*) FROM mirror_feed_applied")[0][0]
            assert applied == upto
            if upto == total:
                break
        assert any(0 < c < total for c in cursors), cursors  # some kills did land mid-feed
        # A clean sync carries on from the cursor to the same end as one uninterrupted run.
        feed = PushFeed(m, state, channel=channel())
        with httpx.Client(transport=platform.mock_transport()) as client:
            feed.pull(client, limit=PAGE)
        assert state.cursor() == f"c-{total:06d}"
        assert view(m) == reference(tmp_path, platform, total, 99)
        assert m.speaks_for_platform is True
        m.close()


def test_one_process_applies_the_feed_others_keep_checking(tmp_path: Path) -> None:
    platform = busy_platform()
    with pg_schema_dsn() as dsn:
        holder = seeded(PostgresMirror(dsn))
        other = PostgresMirror(dsn)
        with holder.feed_lock():
            feed = PushFeed(other, other.feed_state(), channel=channel())
            with (
                httpx.Client(transport=platform.mock_transport()) as client,
                pytest.raises(FeedBusy, match="another process is applying"),
            ):
                feed.pull(client, limit=PAGE)
            assert other.feed_state().cursor() is None
            # checking goes on while the feed is held
            assert other.lookup([ORGS[0]])[ORGS[0]].found is False
        # released: the other process may sync now
        with httpx.Client(transport=platform.mock_transport()) as client:
            report = PushFeed(other, other.feed_state(), channel=channel()).pull(client, limit=100)
        assert report.applied == 400
        # a killed holder's lock goes with its connection
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            with PostgresMirror(dsn).feed_lock():
                time.sleep(30)
            os._exit(0)
        time.sleep(0.5)
        with pytest.raises(FeedBusy), other.feed_lock():
            pass
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        deadline = time.monotonic() + 10
        while True:
            try:
                with other.feed_lock():
                    break
            except FeedBusy:
                assert time.monotonic() < deadline, "the killed holder's lock was never released"
                time.sleep(0.1)
        holder.close()
        other.close()
