"""Push sync: each event applied once, cursor after applying, unknown types counted."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest
from creditguard_platform.client import push_event
from outbox_helpers import ORG, ORG2, UNIT, channel, make_deliverer

from creditguard.cases import CaseRecorder
from creditguard.channels import PushEvent
from creditguard.errors import SourceUnavailable
from creditguard.mirror import SqliteMirror
from creditguard.outbox import SqliteOutbox
from creditguard.push_feed import FeedState, PushFeed
from creditguard.testing import Fault, ReferencePlatform


def events(raw: list[dict[str, Any]]) -> list[PushEvent]:
    """Spec §7.1 event objects as the platform channel reads them."""
    return [push_event(e) for e in raw]


class Harness:
    def __init__(self, tmp: Path, platform: ReferencePlatform) -> None:
        self.platform = platform
        self.mirror = SqliteMirror(tmp / "mirror.db")
        self.state = FeedState(tmp / "state.db")
        self.outbox = SqliteOutbox(tmp / "outbox.db")
        self.invalidated: list[str] = []
        self.lists: list[tuple[str, str]] = []
        self.sync = PushFeed(
            self.mirror,
            self.state,
            channel=channel(),
            cases=CaseRecorder(self.outbox, UNIT),
            implemented={"S-01"},
            on_invalidate=self.invalidated.append,
            on_measure_list=lambda r, v: self.lists.append((r, v)),
        )
        self.client = httpx.Client(transport=platform.mock_transport())

    def pull(self, **kw: Any) -> Any:
        return self.sync.pull(self.client, **kw)

    def records(self, code: str) -> list[str]:
        return sorted(r.record_id for r in self.mirror.lookup([code])[code].records)


@pytest.fixture
def h(tmp_path: Path, platform: ReferencePlatform) -> Harness:
    return Harness(tmp_path, platform)


def test_pull_applies_records_cases_and_counts_unknown(h: Harness) -> None:
    p = h.platform
    a = p.add_record(ORG, push=True)
    b = p.add_record(ORG2, push=True)
    p.update_record(a["record_id"], status="repaired", push=True)
    p.remove_record(b["record_id"], push=True)
    p.push_event("measure_list.published", region="320000", version="2026.3")
    p.push_event("subject.renamed", subject_code=ORG)
    case = p.initiate_case(ORG, ["S-01", "S-02"], region="320100")
    report = h.pull(limit=2)
    assert report.applied == 6 and report.unknown == 1 and report.pages >= 4
    assert report.cursor == h.state.cursor() == "c-000007"
    assert h.records(ORG) == [a["record_id"]]
    # A removal keeps the record as a tombstone (replays stay exact), without effect.
    assert [r.status for r in h.mirror.lookup([ORG2])[ORG2].records] == ["removed"]
    held = h.mirror.lookup([ORG])[ORG].records[0]
    assert held.status == "repaired"
    assert h.invalidated == [ORG, ORG2, ORG, ORG2]
    assert h.lists == [("320000", "2026.3")]
    assert h.state.counters()["unknown"] == 1
    make_deliverer(h.outbox, p).deliver_due()
    (resp,) = p.responses
    assert resp["case_id"] == case["case_id"] and resp["accepted_measures"] == ["S-01"]
    assert resp["declined_measures"][0]["code"] == "S-02"
    again = h.pull()
    assert again.applied == 0 and again.cursor == "c-000007"


def test_events_seen_twice_are_applied_once(h: Harness) -> None:
    h.platform.add_record(ORG, push=True)
    page = events(h.platform.events)
    r1 = h.sync.apply_page(page, cursor="c-1")
    r2 = h.sync.apply_page(page + page, cursor="c-1")
    assert (r1.applied, r2.applied, r2.duplicates) == (1, 0, 2)
    assert h.invalidated == [ORG]


def test_cursor_is_not_moved_when_applying_fails(h: Harness) -> None:
    h.platform.add_record(ORG, push=True)
    h.pull()
    h.platform.add_record(ORG2, push=True)

    def boom(*_: Any, **__: Any) -> None:
        raise OSError("mirror disk gone")

    h.mirror.upsert = boom  # type: ignore[method-assign]
    with pytest.raises(OSError):
        h.pull()
    assert h.state.cursor() == "c-000001", "the failed page is read again next time"


def test_bad_events_are_rejected_not_fatal(h: Harness) -> None:
    raw = [
        {
            "event_id": "E-1",
            "type": "record.added",
            "subject_code": "not-a-code",
            "record": {"record_id": "x"},
        },
        {
            "event_id": "E-2",
            "type": "record.added",
            "subject_code": ORG,
            "record": {"record_id": "bad"},
        },
        {"event_id": "E-3", "type": "record.removed", "subject_code": ORG, "record_id": "nope"},
    ]
    r = h.sync.apply_page(events(raw), cursor=None)
    assert (r.rejected, r.applied) == (2, 1)


def test_platform_errors_raise_typed_errors(h: Harness) -> None:
    h.platform.inject(Fault.status(503, times=1))
    with pytest.raises(SourceUnavailable):
        h.pull()
    h.platform.inject(Fault.garbage(200, times=1))
    with pytest.raises(SourceUnavailable, match="malformed answer"):
        h.pull()
    assert h.state.cursor() is None


def test_webhook_stored_events_are_applied(h: Harness) -> None:
    h.platform.add_record(ORG, push=True)
    (event,) = events(h.platform.events)
    assert h.state.store_event(event) is True and h.state.store_event(event) is False
    report = h.sync.apply_stored()
    assert report.applied == 1 and h.state.stored_events() == []
    assert h.state.store_event(event) is False, "an applied event is not stored again"
    other = dataclasses.replace(event, event_id="E-x")
    h.state.store_event(other)
    h.sync.apply_page([other], cursor=None)
    assert h.state.stored_events() == [], "applying an event by polling settles its webhook copy"


def test_a_removal_naming_another_subject_is_refused(h: Harness) -> None:
    rec = h.platform.add_record(ORG, push=True)
    h.pull()
    forged = PushEvent(
        event_id="E-forged", type="record.removed", subject_code=ORG2, record_id=rec["record_id"]
    )
    report = h.sync.apply_page([forged], cursor=None)
    assert (report.rejected, report.applied) == (1, 0)
    assert h.records(ORG) == [rec["record_id"]]


def test_reading_the_feed_to_its_end_marks_the_mirror_synced(h: Harness) -> None:
    h.pull()  # an empty poll counts
    assert h.mirror.stats().synced_at is not None
    assert h.mirror.speaks_for_platform


def test_the_feed_is_read_through_the_channel(h: Harness) -> None:
    # Core names no platform path: the request comes from the channel.
    h.pull()
    (req,) = h.platform.requests_log
    assert req.path == "/v1/pushes" and req.app_key == "test-key"
