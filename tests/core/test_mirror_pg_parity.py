"""One suite, both stores: the PostgreSQL mirror gives what the SQLite mirror gives (issue 13).

Every test runs once per store (the ``store`` fixture) and, besides its own
assertions, compares each answer with a fresh SQLite mirror fed the same
input: reports, refusals (text and counts), lookups (records, tombstones,
status history, links), freshness and Guard decisions.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from _coredata import (
    ORG_BLACK,
    ORG_CLEAN,
    ORG_FOCUS,
    ORG_MULTI,
    PERSON_CLEAN,
    REP,
    measure_lists,
    mirror_rows,
    resident_id,
    uscc,
)
from _pgmirror import pg_schema_dsn

from creditguard.config import config_from_dict
from creditguard.errors import InvalidRecordError, SourceUnavailable
from creditguard.guard import Guard
from creditguard.mirror import ImportRefused, PostgresMirror, SqliteMirror
from creditguard.models import CreditRecord, Subject

Factory = Callable[..., Any]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """``store(clock=...)`` builds a mirror of the parametrised kind (a fresh one each call)."""
    built: list[Any] = []
    with contextlib_exit() as stack:

        def make(**kw: Any) -> Any:
            if request.param == "sqlite":
                m: Any = SqliteMirror(tmp_path / f"m{len(built)}.db", **kw)
            else:
                m = PostgresMirror(stack.enter_context(pg_schema_dsn()), **kw)
            built.append(m)
            return m

        yield make
        for m in built:
            m.close()


def contextlib_exit() -> Any:
    import contextlib

    return contextlib.ExitStack()


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[Factory]:
    """``twin(**kw)``: a SQLite reference mirror to compare with."""
    built: list[SqliteMirror] = []

    def make(**kw: Any) -> SqliteMirror:
        m = SqliteMirror(tmp_path / f"ref{len(built)}.db", **kw)
        built.append(m)
        return m

    yield make
    for m in built:
        m.close()


def lines(rows: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in rows]


ALL = [ORG_BLACK, ORG_CLEAN, ORG_FOCUS, ORG_MULTI, REP, PERSON_CLEAN]


def view(m: Any, codes: list[str] = ALL) -> dict[str, Any]:
    """Everything lookups answer, as plain data (related records for persons)."""
    out = {}
    for code in codes:
        related = len(code) == 18 and code[:1].isdigit() and not code.startswith("9")
        got = m.lookup([code], include_related=related)[code]
        assert got.data_as_of is not None  # each mirror's own load time: compared in test_freshness
        out[code] = got.model_dump(mode="json", exclude={"data_as_of"})
    return out


_WHY = {
    "does not exist": "never been loaded",  # a SQLite file not created yet
    "never been loaded": "never been loaded",
    "max_age_s": "max_age_s",
    "future": "future",
}


def both(m: Any, ref: SqliteMirror, op: Callable[[Any], Any]) -> Any:
    """Run ``op`` on both mirrors; the outcome (value or error text) must be the same."""

    def outcome(target: Any) -> tuple[str, Any]:
        try:
            value = op(target)
        except SourceUnavailable as exc:
            # Each store names itself (a file, a database): compare why, not where.
            why = next(w for w in _WHY if w in str(exc))
            return type(exc).__name__, _WHY[why]
        except InvalidRecordError as exc:
            return type(exc).__name__, str(exc)
        return "ok", value.as_dict() if hasattr(value, "as_dict") else value

    got, want = outcome(m), outcome(ref)
    assert got == want
    return got


def test_import_report_lookups_and_stats(store: Factory, twin: Factory) -> None:
    m, ref = store(), twin()
    kind, report = both(m, ref, lambda t: t.import_lines(lines(mirror_rows()), name="a.jsonl"))
    assert kind == "ok" and report["added"] == 8 and report["links_set"] == 1
    assert view(m) == view(ref)
    black = m.lookup([ORG_BLACK])[ORG_BLACK]
    assert [r.record_id for r in black.records] == ["JS-BL-1"] and black.subject is not None
    multi = m.lookup([ORG_MULTI])[ORG_MULTI]
    assert [r.record_id for r in multi.records] == ["PC-BL-1", "MR-F-1", "SP-BL-1"]
    via = m.lookup([REP], include_related=True)[REP]
    assert [(r.record_id, r.role, r.via) for r in via.records] == [
        ("JS-BL-1", "legal_representative", ORG_BLACK)
    ]
    assert m.lookup([ORG_CLEAN])[ORG_CLEAN].found is False
    s, r = m.stats(), ref.stats()
    assert (s.subjects, s.records, s.removed) == (r.subjects, r.records, r.removed) == (6, 8, 0)
    assert m.count() == ref.count()
    assert m.subject_of("MR-F-1") == ORG_MULTI and m.subject_of("nope") is None
    # the same file again changes nothing
    _, again = both(m, ref, lambda t: t.import_lines(lines(mirror_rows()), name="a.jsonl"))
    assert again["changed"] == 0 and again["unchanged"] == 8


def test_second_file_updates_names_and_links(store: Factory, twin: Factory) -> None:
    m, ref = store(), twin()
    for t in (m, ref):
        t.import_lines(lines(mirror_rows()))
    rows = mirror_rows()
    rows[0]["subject"]["legal_representative"] = {"code": PERSON_CLEAN, "name": "李四"}
    rows[1]["subject"]["legal_representative"] = {"code": REP, "name": "张三"}
    rows[2]["subject"]["name"] = "南京某某新科技有限公司"
    rows[3]["record"]["status"] = "repaired"
    rows.append({"subject": {"code": ORG_CLEAN, "name": None}, "record": _new_record("NEW-1")})
    extra = copy.deepcopy(rows[0])
    extra["subject"]["legal_representative"] = None  # removes ORG_BLACK's link? no: differs
    _, report = both(m, ref, lambda t: t.import_lines(lines(rows), name="b.jsonl"))
    assert report["links_changed"] == 1 and report["links_set"] == 1
    assert report["subjects_updated"] == 3 and report["subjects_added"] == 1
    assert report["updated"] == 1 and report["added"] == 1
    assert view(m) == view(ref)
    rows = mirror_rows()
    rows[0]["subject"]["legal_representative"] = None
    _, removed = both(m, ref, lambda t: t.import_lines(lines(rows), name="c.jsonl"))
    assert removed["links_removed"] == 1
    assert view(m) == view(ref)


def _new_record(rid: str, **over: Any) -> dict[str, Any]:
    rec = copy.deepcopy(mirror_rows()[1]["record"])
    rec["record_id"] = rid
    rec.update(over)
    return rec


def test_refused_files_name_the_same_lines_and_keep_nothing(store: Factory, twin: Factory) -> None:
    m, ref = store(), twin()
    for t in (m, ref):
        t.import_lines(lines(mirror_rows()))
    before = view(m)
    other = copy.deepcopy(mirror_rows()[0])
    other["subject"] = {"code": ORG_CLEAN}  # JS-BL-1 held for ORG_BLACK: a conflict
    dup = copy.deepcopy(mirror_rows()[1])
    rep_a = {
        "subject": {"code": ORG_CLEAN, "legal_representative": {"code": REP}},
        "record": _new_record("R-A"),
    }
    rep_b = {
        "subject": {"code": ORG_CLEAN, "legal_representative": {"code": PERSON_CLEAN}},
        "record": _new_record("R-B"),
    }
    bad = [
        *lines([mirror_rows()[1], dup, other, rep_a]),
        "{not json",
        *lines([rep_b]),
        json.dumps({"subject": {"code": "123"}, "record": {}}),
        "",
        json.dumps({"subject": {"code": ORG_CLEAN}, "record": _new_record("R-C", expire_on="x")}),
    ]
    kind, text = both(m, ref, lambda t: t.import_lines(bad, name="bad.jsonl"))
    assert kind == "ImportRefused" and "nothing imported" in text
    for where in ("bad.jsonl:2:", "bad.jsonl:3:", "bad.jsonl:5:", "bad.jsonl:6:", "bad.jsonl:9:"):
        assert where in text
    assert REP not in text  # persons masked
    with pytest.raises(ImportRefused) as got:
        m.import_lines(bad, name="bad.jsonl")
    assert got.value.refused == 6 and got.value.lines == 8
    assert view(m) == before == view(ref)
    # more than 20 bad lines: the first 20 are named, every one is counted
    many = [
        json.dumps({"subject": {"code": ORG_CLEAN}, "record": _new_record("D")}) for _ in range(30)
    ]
    kind, text = both(m, ref, lambda t: t.import_lines(many, name="many.jsonl"))
    assert "29 bad line(s)" in text and "... and 9 more bad lines" in text
    _, empty = both(m, ref, lambda t: t.import_lines(["", "  "], name="e.jsonl"))
    assert "no records in the file" in empty


def test_dry_run_keeps_nothing(store: Factory, twin: Factory) -> None:
    m, ref = store(), twin()
    _, report = both(m, ref, lambda t: t.import_lines(lines(mirror_rows()), dry_run=True))
    assert report["added"] == 8
    kind, text = both(m, ref, lambda t: t.lookup([ORG_BLACK]))
    assert kind == "SourceUnavailable" and "never been loaded" in text


def test_push_events_keep_history_and_tombstones(store: Factory, twin: Factory) -> None:
    m, ref = store(), twin()
    for t in (m, ref):
        t.import_lines(lines(mirror_rows()))
    rec = CreditRecord.model_validate(mirror_rows()[0]["record"])
    repaired = rec.model_copy(update={"status": "repaired"})
    fresh = CreditRecord.model_validate(_new_record("PUSH-1"))
    subject = Subject(code=ORG_CLEAN, kind="organization", name="新公司")
    steps: list[Callable[[Any], Any]] = [
        lambda t: t.upsert(None, repaired, subject_code=ORG_BLACK, at="2026-01-05T10:00:00+08:00"),
        lambda t: t.upsert(None, repaired, subject_code=ORG_BLACK, at="2026-01-06"),
        lambda t: t.upsert(subject, fresh, at=date(2026, 1, 7)),
        lambda t: t.upsert(None, fresh, subject_code=ORG_BLACK),  # id held for another subject
        lambda t: t.remove("PUSH-1", subject_code=ORG_BLACK),  # wrong subject
        lambda t: t.remove("PUSH-1", subject_code=ORG_CLEAN, at="2026-01-08"),
        lambda t: t.remove("PUSH-1", subject_code=ORG_CLEAN, at="2026-01-09"),
        lambda t: t.remove("nope", subject_code=ORG_CLEAN),
        lambda t: t.remove("TAX-F-1", subject_code=ORG_FOCUS, at="2026-01-10"),
    ]
    results = [both(m, ref, op) for op in steps]
    assert [r[1] if r[0] == "ok" else r[0] for r in results] == [
        "updated",
        "unchanged",
        "added",
        "InvalidRecordError",
        "InvalidRecordError",
        True,
        False,
        False,
        True,
    ]
    assert view(m) == view(ref)
    tomb = m.lookup([ORG_FOCUS])[ORG_FOCUS].records[0]
    assert tomb.status == "removed" and [h.status for h in tomb.status_history] == [
        "rectifying",
        "removed",
    ]
    assert m.stats().removed == ref.stats().removed == 2
    # the import that follows keeps what the events did to the other records
    assert both(m, ref, lambda t: t.import_lines(lines(mirror_rows())))[0] == "ok"
    assert view(m) == view(ref)


def test_freshness(store: Factory, twin: Factory) -> None:
    now = [1_800_000_000.0]
    m, ref = store(clock=lambda: now[0], max_age_s=3600), twin(clock=lambda: now[0], max_age_s=3600)
    kind, text = both(m, ref, lambda t: t.lookup([ORG_BLACK]))
    assert kind == "SourceUnavailable" and "never been loaded" in text
    for t in (m, ref):
        t.import_lines(lines(mirror_rows()))
    got = m.lookup([ORG_BLACK])[ORG_BLACK]
    assert got.data_as_of is not None and got.data_as_of.timestamp() == now[0]
    assert m.speaks_for_platform is False
    now[0] += 3601
    kind, text = both(m, ref, lambda t: t.lookup([ORG_BLACK]))
    assert kind == "SourceUnavailable" and "max_age_s" in text
    for t in (m, ref):
        t.mark_synced()
    assert m.lookup([ORG_BLACK])[ORG_BLACK].data_as_of.timestamp() == now[0]  # type: ignore[union-attr]
    assert m.speaks_for_platform is True and m.stats().synced_at is not None
    now[0] -= 3600  # the last load now lies an hour in the future: a wrong clock
    kind, text = both(m, ref, lambda t: t.lookup([ORG_BLACK]))
    assert kind == "SourceUnavailable" and "future" in text


@pytest.mark.postgres
def test_unreachable_database_is_unavailable() -> None:
    m = PostgresMirror("postgresql://nobody@127.0.0.1:1/none", connect_timeout_s=1)
    with pytest.raises(SourceUnavailable) as info:
        m.lookup([ORG_BLACK])
    assert "127.0.0.1:1" not in str(info.value) and "nobody" not in repr(m)


def test_random_files_agree(store: Factory, twin: Factory) -> None:
    """Random mixes of new, changed, repeated and conflicting lines: same report, same data."""
    rng = random.Random(1313)
    m, ref = store(), twin()
    for t in (m, ref):
        t.import_lines(lines(mirror_rows()))
    orgs = [uscc("320100", f"MA{n:06d}") for n in range(12)]
    reps = [resident_id("320102", "19800101", f"{n:03d}") for n in range(4)]
    for round_ in range(6):
        rows = []
        for _ in range(rng.randint(1, 25)):
            subj: dict[str, Any] = {"code": rng.choice(orgs)}
            if rng.random() < 0.5:
                subj["name"] = rng.choice(["甲公司", "乙公司", None])
            if rng.random() < 0.4:
                subj["legal_representative"] = (
                    {"code": rng.choice(reps)} if rng.random() < 0.8 else None
                )
            rows.append(
                {
                    "subject": subj,
                    "record": _new_record(
                        f"R{rng.randint(0, 30)}",
                        status=rng.choice(["listed", "rectifying", "repaired"]),
                    ),
                }
            )
        both(m, ref, lambda t, rows=rows, r=round_: t.import_lines(lines(rows), name=f"r{r}"))
        assert view(m, orgs + reps) == view(ref, orgs + reps)


def test_guard_decisions_are_the_same(store: Factory, twin: Factory, tmp_path: Path) -> None:
    m, ref = store(), twin()
    for t in (m, ref):
        t.import_lines(lines(mirror_rows()))
    cfg = config_from_dict(
        {"guard": {"data_dir": str(tmp_path)}, "measures": {"packs": False}}, base_dir=tmp_path
    )

    def decisions(source: Any) -> list[Any]:
        g = Guard(cfg, sources=[source], measure_lists=measure_lists(), load_entrypoints=False)
        try:
            out = []
            for code in ALL:
                for step in ("procurement.bid", "subsidy.apply", "licensing.accept"):
                    d = g.check(code, step=step, region="320100")
                    out.append((code, step, d.outcome, [x.code for x in d.measures], d.verified))
            return out
        finally:
            g.close()

    got = decisions(m)
    assert got == decisions(ref)
    assert any(o == "deny" for _, _, o, _, _ in got) and any(o == "allow" for _, _, o, _, _ in got)
