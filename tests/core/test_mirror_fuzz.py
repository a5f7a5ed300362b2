"""Fuzzing the two ways data enters the mirror: import lines and push events.

Every input gives either the right result or a typed error
(:class:`~creditguard.errors.InputError`), and a refused input leaves the
database file byte-identical (issue 8, "Beyond the list").
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from itertools import pairwise
from pathlib import Path

from _coredata import ORG_BLACK, ORG_CLEAN, ORG_FOCUS, REP, mirror_rows, write_jsonl
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from creditguard.codes import parse_code
from creditguard.errors import InputError
from creditguard.mirror import SqliteMirror
from creditguard.models import CreditRecord

# FUZZ_N=2000 explores further (randomised); the default run is fixed and quick.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_N", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=not os.environ.get("FUZZ_N"),
)

KNOWN_LINE = {"subject", "record"}
KNOWN_SUBJECT = {"code", "kind", "name", "legal_representative"}
KNOWN_RECORD = {*CreditRecord.model_fields, "extensions"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
codes = st.sampled_from(
    [
        ORG_BLACK,
        ORG_FOCUS,
        ORG_CLEAN,
        ORG_BLACK.lower(),
        REP,
        REP.lower(),
        "",
        "123",
        "91320100MA1W2K7D40",
    ]
)
field_names = st.sampled_from(sorted(KNOWN_RECORD | KNOWN_SUBJECT | {"expire_on", "nmae", "x"}))


def snapshot(m: SqliteMirror) -> tuple[bytes, list[str]]:
    conn = m._conn
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return m.path.read_bytes(), list(conn.iterdump())


@st.composite
def import_lines(draw: st.DrawFn) -> tuple[list[str], bool]:
    """Lines built from real rows with random damage; the flag says an unknown field was added."""
    rows = copy.deepcopy(mirror_rows())
    picked = draw(st.lists(st.sampled_from(range(len(rows))), min_size=1, max_size=3))
    out: list[str] = []
    unknown = False
    for i in picked:
        row_unknown = False
        row = copy.deepcopy(rows[i])
        if draw(st.booleans()):
            row["record"]["record_id"] = draw(st.sampled_from(["JS-BL-1", "N-1", "N-2", ""]))
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
            part = draw(st.sampled_from(["subject", "record", "line"]))
            target = row[part] if isinstance(row.get(part), dict) else row
            part = part if target is not row else "line"
            action = draw(st.sampled_from(["set", "delete", "code", "rename"]))
            key = draw(field_names)
            if action == "set":
                target[key] = draw(json_values)
            elif action == "delete" and target:
                target.pop(draw(st.sampled_from(sorted(target))), None)
            elif action == "code" and isinstance(row.get("subject"), dict):
                row["subject"]["code"] = draw(codes)
            elif action == "rename" and target:
                old = draw(st.sampled_from(sorted(target)))
                target[old + "_"] = target.pop(old)
                row_unknown = True
            if action == "set":
                known = {"line": KNOWN_LINE, "subject": KNOWN_SUBJECT, "record": KNOWN_RECORD}[part]
                row_unknown = row_unknown or key not in known
        if draw(st.integers(0, 19)) == 0:
            out.append(draw(st.text(max_size=30)).replace("\n", " "))
            continue
        out.append(json.dumps(row, ensure_ascii=False))
        unknown = unknown or row_unknown
    return out, unknown


@FUZZ
@given(import_lines())
def test_import_lines(case: tuple[list[str], bool]) -> None:
    lines, has_unknown = case
    with tempfile.TemporaryDirectory() as tmp:
        m = SqliteMirror(Path(tmp) / "m.db")
        m.import_jsonl(write_jsonl(Path(tmp) / "base.jsonl", mirror_rows()))
        before = snapshot(m)
        path = Path(tmp) / "fuzz.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            report = m.import_jsonl(path)
        except InputError:
            event("refused")
            assert snapshot(m) == before
            m.close()
            return
        event("imported")
        assert not has_unknown, "a line with an unknown field was imported"
        assert report.refused == 0 and report.records == len([ln for ln in lines if ln.strip()])
        for text in lines:
            if not text.strip():
                continue
            row = json.loads(text)
            code = parse_code(row["subject"]["code"]).code
            got = {r.record_id: r for r in m.lookup([code])[code].records}
            stored = got[row["record"]["record_id"]]
            dumped = stored.model_dump(mode="json")
            for key, value in row["record"].items():
                if key == "via" and value is not None:
                    value = parse_code(value).code
                if key == "extensions":
                    assert stored.model_extra == {"extensions": value}
                else:
                    assert dumped[key] == value, key
            assert set(stored.model_extra or {}) <= {"extensions"}
        m.close()


events = st.tuples(
    st.sampled_from(["upsert", "remove"]),
    codes,
    st.sampled_from(["JS-BL-1", "TAX-F-1", "N-1"]),
    st.sampled_from(["listed", "rectifying", "repaired", "removed"]),
    st.one_of(st.none(), st.text(max_size=25), st.just("2026-03-02T09:15:00+08:00")),
)


@FUZZ
@given(st.lists(events, min_size=1, max_size=8))
def test_push_events(ops: list[tuple[str, str, str, str, str | None]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        m = SqliteMirror(Path(tmp) / "m.db")
        m.import_jsonl(write_jsonl(Path(tmp) / "base.jsonl", mirror_rows()))
        owner = {"JS-BL-1": ORG_BLACK, "TAX-F-1": ORG_FOCUS}
        status = {"JS-BL-1": "listed", "TAX-F-1": "rectifying"}
        base = mirror_rows()[0]["record"]
        for kind, raw_code, rid, new_status, at in ops:
            try:
                code: str | None = parse_code(raw_code).code
            except InputError:
                code = None
            refused = code is None or (rid in owner and owner[rid] != code)
            before = snapshot(m)
            try:
                if kind == "upsert":
                    rec = CreditRecord.model_validate(
                        {**base, "record_id": rid, "status": new_status}
                    )
                    m.upsert(None, rec, subject_code=raw_code, at=at)
                else:
                    m.remove(rid, subject_code=raw_code, at=at)
            except InputError:
                event("event refused")
                assert refused, (kind, raw_code, rid)
                assert snapshot(m) == before
                continue
            event("event applied")
            assert not refused, (kind, raw_code, rid)
            assert code is not None
            if kind == "upsert":
                owner[rid] = code
                status[rid] = new_status
            elif rid in owner:
                status[rid] = "removed"
        m.mark_synced()
        for rid, code in owner.items():
            [rec] = [r for r in m.lookup([code])[code].records if r.record_id == rid]
            assert rec.status == status[rid]
            hist = rec.status_history
            assert not hist or hist[-1].status == rec.status
            assert all(a.on <= b.on for a, b in pairwise(hist))
        m.close()
