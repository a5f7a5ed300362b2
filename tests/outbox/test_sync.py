"""Push sync: each event applied once, cursor after applying, unknown types counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from outbox_helpers import BASE, ORG, ORG2, UNIT, make_deliverer

from creditguard.cases import CaseRecorder
from creditguard.errors import SourceUnavailable
from creditguard.mirror import SqliteMirror
from creditguard.outbox import SqliteOutbox
from creditguard.push_feed import FeedState, PushFeed
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET, Fault, ReferencePlatform


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
            cases=CaseRecorder(self.outbox, UNIT),
            implemented={"S-01"},
            on_invalidate=self.invalidated.append,
            on_measure_list=lambda r, v: self.lists.append((r, v)),
        )
        self.client = httpx.Client(transport=platform.mock_transport())

    def pull(self, **kw: Any) -> Any:
        return self.sync.pull(
            self.client, base_url=BASE, app_key=DEFAULT_APP_KEY, secret=DEFAULT_SECRET, **kw
        )

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
    assert h.records(ORG) == [a["record_id"]] and h.records(ORG2) == []
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
    page = h.platform.events
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
    events = [
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
    r = h.sync.apply_page(events, cursor=None)
    assert (r.rejected, r.applied) == (2, 1)


def test_platform_errors_raise_typed_errors(h: Harness) -> None:
    h.platform.inject(Fault.status(503, times=1))
    with pytest.raises(SourceUnavailable):
        h.pull()
    h.platform.inject(Fault.garbage(200, times=1))
    with pytest.raises(SourceUnavailable, match="page"):
        h.pull()
    assert h.state.cursor() is None


def test_webhook_stored_events_are_applied(h: Harness) -> None:
    h.platform.add_record(ORG, push=True)
    (event,) = h.platform.events
    assert h.state.store_event(event) is True and h.state.store_event(event) is False
    report = h.sync.apply_stored()
    assert report.applied == 1 and h.state.stored_events() == []
    assert h.state.store_event(event) is False, "an applied event is not stored again"
    h.state.store_event({**event, "event_id": "E-x"})
    h.sync.apply_page([{**event, "event_id": "E-x"}], cursor=None)
    assert h.state.stored_events() == [], "applying an event by polling settles its webhook copy"
