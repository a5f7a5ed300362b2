"""The SQLite mirror: all-or-nothing, idempotent imports and indexed lookups."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_MULTI, PERSON_CLEAN, REP, mirror_rows, write_jsonl

from creditguard.errors import InvalidRecordError
from creditguard.mirror import SqliteMirror
from creditguard.models import CreditRecord, Subject


def test_import_counts(mirror: SqliteMirror) -> None:
    assert mirror.count() == (6, 8)


def test_import_is_idempotent(tmp_path: Path, records_file: Path) -> None:
    m = SqliteMirror(tmp_path / "fresh.db")
    first = m.import_jsonl(records_file)
    assert (first.lines, first.records, first.subjects) == (8, 8, 6)
    assert (first.added, first.updated, first.unchanged, first.changed) == (8, 0, 0, 14)
    before = m.lookup([ORG_MULTI])[ORG_MULTI]
    second = m.import_jsonl(records_file)
    assert second.records == 8
    assert (second.added, second.updated, second.unchanged, second.changed) == (0, 0, 8, 0)
    assert second.summary().startswith("0 changed")
    assert m.count() == (6, 8)
    again = m.lookup([ORG_MULTI])[ORG_MULTI]
    assert (again.subject, again.records) == (before.subject, before.records)


def test_reimport_updates_a_record(tmp_path: Path, mirror: SqliteMirror) -> None:
    rows = mirror_rows()[:1]
    rows[0]["record"]["status"] = "removed"
    mirror.import_jsonl(write_jsonl(tmp_path / "update.jsonl", rows))
    assert mirror.count() == (6, 8)
    [rec] = mirror.lookup([ORG_BLACK])[ORG_BLACK].records
    assert rec.status == "removed"


def _bad(mutate: Any) -> list[dict[str, Any]]:
    rows = copy.deepcopy(mirror_rows())
    extra = {
        "subject": {"code": ORG_CLEAN, "kind": "organization", "name": "新公司"},
        "record": {**rows[0]["record"], "record_id": "NEW-1"},
    }
    rows.append(extra)
    mutate(rows)
    return rows


def _set(path: str, value: Any) -> Any:
    def mutate(rows: list[dict[str, Any]]) -> None:
        part, key = path.split(".")
        if value is _DELETE:
            del rows[2][part][key]
        else:
            rows[2][part][key] = value

    return mutate


_DELETE = object()


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (_set("record.list_kind", _DELETE), "record.list_kind"),
        (_set("record.listed_on", _DELETE), "record.listed_on"),
        (_set("record.status", "cancelled"), "record.status"),
        (_set("record.public", "maybe"), "record.public"),
        (_set("record.listed_on", "2025-13-40"), "record.listed_on"),
        (_set("record.expires_on", "2000-01-01"), "expires_on is before"),
        (_set("record.record_id", "JS-BL-1"), "already appears on line 1"),
        (_set("subject.code", "91320100MA1W2K7D40"), "subject.code"),
        (_set("subject.kind", "person"), "subject.kind"),
    ],
)
def test_bad_line_imports_nothing(
    tmp_path: Path, mirror: SqliteMirror, mutate: Any, needle: str
) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", _bad(mutate))
    with pytest.raises(InvalidRecordError) as info:
        mirror.import_jsonl(path)
    msg = str(info.value)
    assert f"{path}:3:" in msg and needle in msg
    assert "nothing imported" in msg
    assert mirror.count() == (6, 8)
    assert mirror.lookup([ORG_CLEAN])[ORG_CLEAN].found is False


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("{not json", "not JSON"),
        ('{"record": {}}', '"subject" and "record"'),
        ("[1, 2]", '"subject" and "record"'),
        ('{"subject": {"name": "x"}, "record": {}}', '"subject" needs a "code"'),
    ],
)
def test_malformed_line_named(tmp_path: Path, mirror: SqliteMirror, line: str, needle: str) -> None:
    good = [json.dumps(r, ensure_ascii=False) for r in mirror_rows()[:2]]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([good[0], "", good[1], line]) + "\n", encoding="utf-8")
    with pytest.raises(InvalidRecordError) as info:
        mirror.import_jsonl(path)
    assert f"{path}:4: " in str(info.value) and needle in str(info.value)
    assert mirror.count() == (6, 8)


def test_every_bad_line_reported(tmp_path: Path, mirror: SqliteMirror) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("nope\n" * 25, encoding="utf-8")
    with pytest.raises(InvalidRecordError) as info:
        mirror.import_jsonl(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: 25 bad line(s)")
    assert f"{path}:20:" in msg and f"{path}:21:" not in msg and "5 more" in msg


def test_not_utf8(tmp_path: Path, mirror: SqliteMirror) -> None:
    path = tmp_path / "gbk.jsonl"
    path.write_bytes(json.dumps(mirror_rows()[0], ensure_ascii=False).encode("gbk"))
    with pytest.raises(InvalidRecordError, match="UTF-8"):
        mirror.import_jsonl(path)


def test_extensions_and_unknown_domains_kept(tmp_path: Path) -> None:
    rows = mirror_rows()[:1]
    rows[0]["record"]["extensions"] = {"case_amount": 123456}
    rows[0]["record"]["domain"] = "food_safety"
    m = SqliteMirror(tmp_path / "m.db")
    m.import_jsonl(write_jsonl(tmp_path / "x.jsonl", rows))
    [rec] = m.lookup([ORG_BLACK])[ORG_BLACK].records
    assert rec.model_extra == {"extensions": {"case_amount": 123456}}
    assert rec.domain == "food_safety"


def test_lookup_uses_the_index(mirror: SqliteMirror) -> None:
    plan = mirror._conn.execute(
        "EXPLAIN QUERY PLAN SELECT data FROM records WHERE subject_code = ?", (ORG_BLACK,)
    ).fetchall()
    assert any("USING INDEX records_subject" in row[-1] for row in plan), plan
    plan = mirror._conn.execute(
        "EXPLAIN QUERY PLAN SELECT code FROM subjects WHERE legal_rep = ?", (REP,)
    ).fetchall()
    assert any("subjects_legal_rep" in row[-1] for row in plan), plan


def test_lookup_found_and_not_found(mirror: SqliteMirror) -> None:
    got = mirror.lookup([ORG_BLACK, ORG_CLEAN])
    assert got[ORG_BLACK].found and got[ORG_BLACK].subject is not None
    assert got[ORG_BLACK].subject.legal_representative is not None
    assert got[ORG_CLEAN].found is False and got[ORG_CLEAN].records == ()


def test_include_related(mirror: SqliteMirror) -> None:
    assert mirror.lookup([REP])[REP].records == ()
    [rec] = mirror.lookup([REP], include_related=True)[REP].records
    assert (rec.record_id, rec.role, rec.via) == ("JS-BL-1", "legal_representative", ORG_BLACK)
    assert mirror.lookup([PERSON_CLEAN], include_related=True)[PERSON_CLEAN].records == ()
    # the organization's own lookup is unchanged
    [own] = mirror.lookup([ORG_BLACK], include_related=True)[ORG_BLACK].records
    assert own.role == "self" and own.via is None


def test_upsert_remove_subject_of(mirror: SqliteMirror) -> None:
    rec = CreditRecord.model_validate({**mirror_rows()[0]["record"], "record_id": "UP-1"})
    mirror.upsert(Subject(code=ORG_CLEAN, kind="organization"), rec)
    assert mirror.subject_of("UP-1") == ORG_CLEAN
    assert mirror.count() == (7, 9)
    assert mirror.remove("UP-1", subject_code=ORG_CLEAN) is True
    assert mirror.remove("UP-1", subject_code=ORG_CLEAN) is False
    # kept as a tombstone: still the subject's, no longer in force
    assert mirror.subject_of("UP-1") == ORG_CLEAN
    [tomb] = mirror.lookup([ORG_CLEAN])[ORG_CLEAN].records
    assert tomb.status == "removed" and [h.status for h in tomb.status_history] == [
        "listed",
        "removed",
    ]


def test_reopen_keeps_data(tmp_path: Path, mirror: SqliteMirror) -> None:
    mirror.close()
    again = SqliteMirror(mirror.path)
    assert again.count() == (6, 8)
    again.close()


def test_repr_has_no_data(mirror: SqliteMirror) -> None:
    assert repr(mirror) == f"SqliteMirror({str(mirror.path)!r})"
