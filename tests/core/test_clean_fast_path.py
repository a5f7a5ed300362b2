"""A clean subject's decision comes from a template: identical to the full path's, its own subject.

When every source answered and none knows the subject, the engine copies
the clean decision's fields kept per (day, step, region, list in force) and
sets the subject, provenance, id and time (docs/design.md, "The hot path").
These tests compare that with the decision the full path builds, and show
the template never covers a subject a source knows, a failed source, another
day, region or step, or another subject's code. The journal keeps one
template verdict for them and each decision's own (masked) subject.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from typing import Any

from _coredata import ORG_BLACK, ORG_CLEAN, PERSON_CLEAN, REGION, uscc

from creditguard.cache import RecordCache
from creditguard.clock import CST
from creditguard.engine import Engine, FailurePolicy, Fetched
from creditguard.errors import SourceUnavailable
from creditguard.journal import read_journal
from creditguard.models import Decision, adopt

GuardFactory = Any
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)
OTHER_CLEAN = uscc("320100", "MA25FGHJ")


def _engine(guard: Any) -> Engine:
    return Engine(
        catalog=guard.catalog,
        sources=["mirror"],
        cache=RecordCache(ttl=0),
        hooks=guard.hooks,
        failure=FailurePolicy("hold"),
        now=lambda: T0,
    )


def _full_path(engine: Engine, code: str, mirror: Any, **kw: Any) -> Decision:
    """The decision the engine built before the template: through ``_usual``."""
    plan = engine.plan(code, step=kw.get("step", "procurement.bid"), region=REGION)
    plan.gathered.append(
        ("mirror", mirror.lookup([code])[code], T0, False, _prov(engine, code, mirror))
    )
    plan.missing.clear()
    fields, _a, _keep = engine._usual(plan, plan.gathered, T0)
    values = dict(fields)
    values["decision_id"], values["decided_at"] = "d-x", T0
    return adopt(Decision, values)


def _prov(engine: Engine, code: str, mirror: Any) -> Any:
    entry = engine.cache.put("mirror", code, False, mirror.lookup([code])[code], T0)
    return entry.provenance


def _fetched(engine: Engine, code: str, mirror: Any, **kw: Any) -> Decision:
    plan = engine.plan(
        code, step=kw.get("step", "procurement.bid"), region=REGION, **kw.get("plan", {})
    )
    return engine.finish(plan, [Fetched(dict(mirror.lookup([code])), None, T0)])


def _same(a: Decision, b: Decision) -> dict[str, Any]:
    skip = ("decision_id", "decided_at", "explanation")
    da = {k: v for k, v in vars(a).items() if k not in skip}
    db = {k: v for k, v in vars(b).items() if k not in skip}
    assert da == db
    return da


def test_the_template_gives_the_full_paths_decision(guard: Any, mirror: Any) -> None:
    for code in (ORG_CLEAN, OTHER_CLEAN, PERSON_CLEAN):
        fast = _fetched(_engine(guard), code, mirror)
        slow = _full_path(_engine(guard), code, mirror)
        fields = _same(fast, slow)
        assert fields["subject_code"] == code and fields["outcome"] == "allow"
        assert fast.verified and not fast.stale and fast.provenance[0].found is False
        assert list(vars(fast)) == list(Decision.model_fields)
        assert Decision.model_validate(fast.model_dump()) == fast
        assert fast.explanation == slow.explanation


def test_each_clean_subject_gets_its_own_code_kind_and_provenance(guard: Any, mirror: Any) -> None:
    e = _engine(guard)
    a = _fetched(e, ORG_CLEAN, mirror)
    b = _fetched(e, PERSON_CLEAN, mirror)
    c = _fetched(e, OTHER_CLEAN, mirror)
    assert (a.subject_code, a.subject_kind) == (ORG_CLEAN, "organization")
    assert (b.subject_code, b.subject_kind) == (PERSON_CLEAN, "person")
    assert c.subject_code == OTHER_CLEAN
    assert len({a.decision_id, b.decision_id, c.decision_id}) == 3
    assert a.provenance is not c.provenance
    assert a.provenance[0].source == "mirror"


def test_a_listed_subject_after_clean_ones_is_still_judged(guard: Any, mirror: Any) -> None:
    e = _engine(guard)
    for code in (ORG_CLEAN, OTHER_CLEAN):
        assert _fetched(e, code, mirror).outcome == "allow"
    black = _fetched(e, ORG_BLACK, mirror)
    assert black.outcome != "allow" and black.records and black.measures
    _same(black, _full_path(_engine(guard), ORG_BLACK, mirror))


def test_a_failed_source_never_takes_the_template(guard: Any, mirror: Any) -> None:
    e = _engine(guard)
    assert _fetched(e, ORG_CLEAN, mirror).verified
    plan = e.plan(ORG_CLEAN, step="procurement.bid", region=REGION)
    down = Fetched(None, SourceUnavailable("mirror too old", source="mirror"), T0)
    d = e.finish(plan, [down])
    assert not d.verified and d.outcome == "review" and "too old" in (d.degraded_reason or "")


def test_another_day_step_or_region_has_its_own_template(guard: Any, mirror: Any) -> None:
    e = _engine(guard)
    today = _fetched(e, ORG_CLEAN, mirror)
    earlier = _fetched(e, ORG_CLEAN, mirror, plan={"as_of": date(2020, 1, 1)})
    other_step = _fetched(e, ORG_CLEAN, mirror, step="subsidy.apply")
    assert (today.as_of, earlier.as_of) == (T0.date(), date(2020, 1, 1))
    assert other_step.step == "subsidy.apply" and today.step == "procurement.bid"
    plan = e.plan(ORG_CLEAN, step="procurement.bid", region="320102")
    there = e.finish(plan, [Fetched(dict(mirror.lookup([ORG_CLEAN])), None, T0)])
    assert there.region == "320102" and today.region == REGION


def test_the_journal_keeps_one_template_and_each_subject(make_guard: GuardFactory) -> None:
    g = make_guard({"guard": {"cache_ttl_s": 0}})
    codes = [ORG_CLEAN, PERSON_CLEAN, OTHER_CLEAN, ORG_CLEAN]
    made = [g.check(c, step="procurement.bid", region=REGION) for c in codes]
    black = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    g.journal.flush()
    entries = {e.decision_id: e for e in read_journal(g.journal.path)}
    for d in made:
        e = entries[d.decision_id]
        assert e.subject == d.subject_display and e.subject_kind == d.subject_kind
        assert (e.outcome, e.verified, e.records, e.measures) == ("allow", True, (), ())
        assert e.sources == ("mirror",) and e.step == "procurement.bid"
    assert "*" in entries[made[1].decision_id].subject  # a person's number stays masked
    assert PERSON_CLEAN not in g.journal.path.read_bytes().decode("utf-8", "replace")
    assert entries[black.decision_id].subject == ORG_BLACK and entries[black.decision_id].measures
    conn = sqlite3.connect(g.journal.path)
    # one template per kind (organisation, person) and one verdict for the listed subject
    assert conn.execute("SELECT count(*) FROM verdicts").fetchone() == (3,)
    view = dict(conn.execute("SELECT decision_id, subject FROM decisions").fetchall())
    assert view == {d: e.subject for d, e in entries.items()}
    conn.close()


_VIEW_V3 = """
CREATE VIEW decisions AS
SELECT json_extract(e.value, '$[1]') AS decision_id, v.subject, v.outcome
FROM batches AS b, json_each(b.decisions) AS e
JOIN verdicts AS v ON v.verdict = json_extract(e.value, '$[0]')
"""


def test_a_layout_3_journal_is_read_and_upgraded(make_guard: GuardFactory) -> None:
    g = make_guard({"guard": {"cache_ttl_s": 0}})
    black = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    g.journal.flush()
    path = g.journal.path
    conn = sqlite3.connect(path)  # as creditguard wrote it before templates: layout 3
    conn.execute("DROP VIEW decisions")
    conn.execute(_VIEW_V3)
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    assert [e.decision_id for e in read_journal(path)] == [black.decision_id]
    clean = g.check(ORG_CLEAN, step="procurement.bid", region=REGION)
    g.journal.close()
    from creditguard.journal import DecisionJournal

    DecisionJournal(path).close()  # opening upgrades the view
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (5,)
    rows = dict(conn.execute("SELECT decision_id, subject FROM decisions").fetchall())
    conn.close()
    assert rows.get(black.decision_id) == ORG_BLACK
    assert clean.decision_id in {e.decision_id for e in read_journal(path)}
