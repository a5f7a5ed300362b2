"""Push events applied to the mirror: removals must name the right subject; tombstones keep replays exact.

Issue 8 items 4 (mirror part) and 9.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_FOCUS, TODAY, mirror_rows

from creditguard.errors import InputError, InvalidRecordError
from creditguard.mirror import SqliteMirror
from creditguard.models import CreditRecord


def snapshot(m: SqliteMirror) -> tuple[bytes, list[str]]:
    conn = m._conn
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return m.path.read_bytes(), list(conn.iterdump())


def record(**changes: Any) -> CreditRecord:
    data = copy.deepcopy(mirror_rows()[0]["record"])
    data.update(changes)
    return CreditRecord.model_validate(data)


def held(m: SqliteMirror, code: str, record_id: str) -> CreditRecord:
    return next(r for r in m.lookup([code])[code].records if r.record_id == record_id)


# --- item 4: a removal acts only on the subject it names ------------------------------------------


def test_removal_naming_another_subject_is_refused(mirror: SqliteMirror) -> None:
    before = snapshot(mirror)
    with pytest.raises(InvalidRecordError) as info:
        mirror.remove("JS-BL-1", subject_code=ORG_CLEAN)
    assert ORG_BLACK in str(info.value) and ORG_CLEAN in str(info.value)
    assert snapshot(mirror) == before
    assert held(mirror, ORG_BLACK, "JS-BL-1").status == "listed"


def test_removal_with_an_invalid_subject_code_is_refused(mirror: SqliteMirror) -> None:
    before = snapshot(mirror)
    with pytest.raises(InputError):
        mirror.remove("JS-BL-1", subject_code="")
    with pytest.raises(InputError):
        mirror.remove("JS-BL-1", subject_code="91320100MA1W2K7D40")
    assert snapshot(mirror) == before


def test_removal_of_an_unknown_record_changes_nothing(mirror: SqliteMirror) -> None:
    before = snapshot(mirror)
    assert mirror.remove("NOPE-1", subject_code=ORG_BLACK) is False
    assert snapshot(mirror)[1] == before[1]


def test_upsert_of_a_record_held_for_another_subject_is_refused(mirror: SqliteMirror) -> None:
    before = snapshot(mirror)
    with pytest.raises(InvalidRecordError, match="never moves between subjects"):
        mirror.upsert(None, record(status="repaired"), subject_code=ORG_FOCUS)
    assert snapshot(mirror) == before


def test_lower_case_subject_code_of_a_removal_is_normalised(mirror: SqliteMirror) -> None:
    assert mirror.remove("JS-BL-1", subject_code=ORG_BLACK.lower()) is True


# --- item 9: tombstones with their history ---------------------------------------------------------


def test_removed_record_is_kept_with_its_history(mirror: SqliteMirror) -> None:
    listed = held(mirror, ORG_BLACK, "JS-BL-1")
    assert mirror.remove("JS-BL-1", subject_code=ORG_BLACK, at="2026-03-02T09:15:00+08:00")
    tomb = held(mirror, ORG_BLACK, "JS-BL-1")
    assert tomb.status == "removed"
    assert [(h.status, h.on) for h in tomb.status_history] == [
        ("listed", listed.listed_on),
        ("removed", max(date(2026, 3, 2), listed.listed_on)),
    ]
    # Replayed on a day before the removal the listing binds; today it does not.
    removal = tomb.status_history[-1].on
    assert tomb.has_effect(removal - timedelta(days=1)) or removal == listed.listed_on
    assert not tomb.has_effect(max(TODAY, removal))
    # and the removal is applied once
    assert mirror.remove("JS-BL-1", subject_code=ORG_BLACK) is False


def test_event_time_is_read_in_china_standard_time(tmp_path: Path) -> None:
    m = SqliteMirror(tmp_path / "m.db")
    m.upsert(None, record(listed_on="2024-05-10", expires_on=None), subject_code=ORG_BLACK)
    m.mark_synced()
    # 2025-08-31 17:30 UTC is 2025-09-01 01:30 in Beijing
    m.remove("JS-BL-1", subject_code=ORG_BLACK, at="2025-08-31T17:30:00Z")
    tomb = held(m, ORG_BLACK, "JS-BL-1")
    assert tomb.status_history[-1].on == date(2025, 9, 1)
    assert tomb.has_effect(date(2025, 8, 31)) and not tomb.has_effect(date(2025, 9, 1))


def test_status_change_is_appended_to_the_history(tmp_path: Path) -> None:
    m = SqliteMirror(tmp_path / "m.db")
    assert (
        m.upsert(None, record(listed_on="2024-05-10", expires_on=None), subject_code=ORG_BLACK)
        == "added"
    )
    assert (
        m.upsert(None, record(listed_on="2024-05-10", expires_on=None), subject_code=ORG_BLACK)
        == "unchanged"
    )
    assert (
        m.upsert(
            None,
            record(listed_on="2024-05-10", expires_on=None, status="repaired"),
            subject_code=ORG_BLACK,
            at="2025-09-01T10:00:00+08:00",
        )
        == "updated"
    )
    m.mark_synced()
    rec = held(m, ORG_BLACK, "JS-BL-1")
    assert [(h.status, h.on.isoformat()) for h in rec.status_history] == [
        ("listed", "2024-05-10"),
        ("repaired", "2025-09-01"),
    ]
    # the replay of 2025-03-01 still sees the listing; a later one does not
    assert rec.has_effect(date(2025, 3, 1)) and not rec.has_effect(date(2025, 9, 2))
    # a later update with the same status keeps the history it does not repeat
    m.upsert(
        None,
        record(listed_on="2024-05-10", expires_on=None, status="repaired", basis="更正"),
        subject_code=ORG_BLACK,
    )
    assert len(held(m, ORG_BLACK, "JS-BL-1").status_history) == 2


def test_history_given_by_the_platform_is_kept(tmp_path: Path) -> None:
    m = SqliteMirror(tmp_path / "m.db")
    history = [{"status": "listed", "on": "2024-05-10"}, {"status": "repaired", "on": "2025-09-01"}]
    m.upsert(
        None,
        record(listed_on="2024-05-10", status="repaired", status_history=history),
        subject_code=ORG_BLACK,
        at="2026-01-01",
    )
    m.mark_synced()
    assert [h.on.isoformat() for h in held(m, ORG_BLACK, "JS-BL-1").status_history] == [
        "2024-05-10",
        "2025-09-01",
    ]


def test_inconsistent_pushed_history_is_refused(mirror: SqliteMirror) -> None:
    before = snapshot(mirror)
    bad = record(status="listed", status_history=[{"status": "repaired", "on": "2025-01-01"}])
    with pytest.raises(InvalidRecordError, match="must equal status"):
        mirror.upsert(None, bad, subject_code=ORG_BLACK)
    assert snapshot(mirror) == before


def test_no_history_is_invented_for_a_record_not_in_force(tmp_path: Path) -> None:
    m = SqliteMirror(tmp_path / "m.db")
    m.upsert(None, record(status="repaired"), subject_code=ORG_BLACK)
    m.remove("JS-BL-1", subject_code=ORG_BLACK)
    m.mark_synced()
    tomb = held(m, ORG_BLACK, "JS-BL-1")
    # when it was repaired is unknown: the record says nothing rather than guess
    assert tomb.status == "removed" and tomb.status_history == ()


def test_removal_after_a_status_change_ends_the_history_with_removed(tmp_path: Path) -> None:
    # Found by the fuzz test: a held history used to be kept as it was, without the removal.
    m = SqliteMirror(tmp_path / "m.db")
    m.upsert(None, record(listed_on="2024-05-10", expires_on=None), subject_code=ORG_BLACK)
    m.upsert(
        None,
        record(listed_on="2024-05-10", expires_on=None, status="rectifying"),
        subject_code=ORG_BLACK,
        at="2025-01-01",
    )
    m.remove("JS-BL-1", subject_code=ORG_BLACK, at="2025-06-01")
    m.mark_synced()
    tomb = held(m, ORG_BLACK, "JS-BL-1")
    assert [(h.status, h.on.isoformat()) for h in tomb.status_history] == [
        ("listed", "2024-05-10"),
        ("rectifying", "2025-01-01"),
        ("removed", "2025-06-01"),
    ]
