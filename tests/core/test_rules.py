"""The pure rules: record effect (spec §4), measure matching, outcome ranking."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from _coredata import measure_lists
from hypothesis import given
from hypothesis import strategies as st

from creditguard.measures.catalog import MeasureCatalog
from creditguard.models import EFFECT_RANK, AppliedMeasure, CreditRecord, EffectiveRecord, Measure
from creditguard.rules import (
    applied,
    combine,
    match_measure,
    outcome_of,
    record_matches,
    step_matches,
    why_not,
)

LISTED = date(2025, 11, 3)
EXPIRES = date(2028, 11, 2)


def rec(
    status: str = "listed", *, listed: date = LISTED, expires: date | None = EXPIRES, **kw: Any
) -> CreditRecord:
    data = {
        "record_id": "R-1",
        "list_kind": "blacklist",
        "domain": "court_enforcement",
        "status": status,
        "listed_on": listed.isoformat(),
        "expires_on": expires.isoformat() if expires else None,
        **kw,
    }
    return CreditRecord.model_validate(data)


def er(record: CreditRecord, subject: str = "S") -> EffectiveRecord:
    return EffectiveRecord(record=record, source="mirror", subject_code=subject)


def measure(
    effect: str = "deny",
    *,
    code: str = "M-1",
    kinds: tuple[str, ...] = ("blacklist",),
    domains: tuple[str, ...] = ("*",),
    steps: tuple[str, ...] = ("procurement.*",),
    **kw: Any,
) -> Measure:
    return Measure.model_validate(
        {
            "code": code,
            "title": f"措施{code}",
            "category": "rights_limiting",
            "legal_basis": ["《某法》第一条"],
            "applies_to": {
                "list_kinds": list(kinds),
                "domains": list(domains),
                "steps": list(steps),
            },
            "effect": effect,
            **kw,
        }
    )


# -- record effect, exactly as spec §4 ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "effect"),
    [
        ("listed", True),
        ("rectifying", True),
        ("rectified", False),
        ("repaired", False),
        ("removed", False),
    ],
)
def test_effect_by_status(status: str, effect: bool) -> None:
    r = rec(status)
    assert r.has_effect(date(2026, 3, 2)) is effect
    assert (r.why_no_effect(date(2026, 3, 2)) is None) is effect


@pytest.mark.parametrize(
    ("on", "effect"),
    [
        (LISTED - timedelta(days=1), False),
        (LISTED, True),  # first day included
        (EXPIRES, True),  # last day included
        (EXPIRES + timedelta(days=1), False),
    ],
)
def test_effect_window_edges_inclusive(on: date, effect: bool) -> None:
    assert rec().has_effect(on) is effect


def test_null_expiry_has_no_end() -> None:
    r = rec(expires=None)
    assert r.has_effect(date(2199, 1, 1))
    assert not r.has_effect(LISTED - timedelta(days=1))


def test_why_no_effect_says_why() -> None:
    assert "repaired" in (rec("repaired").why_no_effect(LISTED) or "")
    assert "listed only from 2025-11-03" in (rec().why_no_effect(date(2025, 1, 1)) or "")
    assert "expired on 2028-11-02" in (rec().why_no_effect(date(2029, 1, 1)) or "")


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    st.sampled_from(["listed", "rectifying", "rectified", "repaired", "removed"]),
    st.integers(min_value=0, max_value=4000),
    st.booleans(),
)
def test_effect_is_spec_formula(on: date, status: str, length: int, open_ended: bool) -> None:
    expires = None if open_ended else LISTED + timedelta(days=length)
    r = rec(status, expires=expires)
    expected = (
        status in ("listed", "rectifying") and on >= LISTED and (expires is None or on <= expires)
    )
    assert r.has_effect(on) is expected
    assert (r.why_no_effect(on) is None) is expected


def test_replay_as_of_a_past_day() -> None:
    r = rec(listed=date(2024, 1, 1), expires=date(2025, 12, 31))
    assert r.has_effect(date(2025, 6, 1))
    assert not r.has_effect(date(2026, 6, 1))


def test_unknown_domain_is_kept_as_text() -> None:
    r = rec(domain="food_safety", extra_field="kept")
    assert r.domain == "food_safety"
    assert r.model_dump()["extra_field"] == "kept"


# -- matching -----------------------------------------------------------------------------


def test_list_kind_must_match() -> None:
    assert record_matches(measure(), er(rec()))
    assert not record_matches(measure(kinds=("focus",)), er(rec()))
    assert record_matches(measure(kinds=("focus", "blacklist")), er(rec(list_kind="focus")))


def test_domains_star_and_named() -> None:
    r = er(rec(domain="tax"))
    assert record_matches(measure(domains=("*",)), r)
    assert record_matches(measure(domains=("tax", "customs")), r)
    assert not record_matches(measure(domains=("customs",)), r)


@pytest.mark.parametrize(
    ("step", "patterns", "ok"),
    [
        ("procurement.bid", ("procurement.*",), True),
        ("procurement.bid", ("procurement.bid",), True),
        ("procurement", ("procurement.*",), False),
        ("licensing.commitment", ("licensing.*", "subsidy.*"), True),
        ("subsidy.apply", ("procurement.*",), False),
        ("anything.at_all", ("*",), True),
        ("Procurement.bid", ("procurement.*",), False),  # case-sensitive
    ],
)
def test_step_globs(step: str, patterns: tuple[str, ...], ok: bool) -> None:
    assert step_matches(step, patterns) is ok


def test_candidates_follow_step_globs() -> None:
    resolved = MeasureCatalog(measure_lists()).resolve("320100", date(2026, 3, 2))
    assert [rm.measure.code for rm in resolved.candidates("procurement.bid")] == ["NJ-01"]
    assert {rm.measure.code for rm in resolved.candidates("licensing.accept")} == {"NJ-03", "NJ-04"}
    assert [rm.measure.code for rm in resolved.candidates("inspection.plan")] == ["JS-01"]
    assert resolved.candidates("honors.nominate") == ()


def test_effective_window_of_measure() -> None:
    m = measure(effective_from="2026-01-01", effective_to="2026-12-31")
    recs = [er(rec())]
    assert match_measure(m, recs, date(2025, 12, 31)) is None
    assert match_measure(m, recs, date(2026, 1, 1)) is not None
    assert match_measure(m, recs, date(2026, 12, 31)) is not None
    assert match_measure(m, recs, date(2027, 1, 1)) is None
    assert (
        why_not(m, "procurement.bid", "blacklist", None, date(2027, 1, 1))
        == "no longer in force since 2026-12-31"
    )


def test_unpublished_measure_does_not_apply() -> None:
    m = measure(published_on="2026-02-20")
    assert match_measure(m, [er(rec())], date(2026, 2, 19)) is None
    assert match_measure(m, [er(rec())], date(2026, 2, 20)) is not None


def test_related_record_needs_extends_to() -> None:
    related = er(rec(role="legal_representative", via="ORG"), subject="ORG")
    assert not record_matches(measure(), related)
    assert record_matches(measure(extends_to=["legal_representative"]), related)
    assert not record_matches(measure(extends_to=["responsible_person"]), related)
    am = match_measure(measure(extends_to=["legal_representative"]), [related], date(2026, 3, 2))
    assert am is not None and am.via == "legal_representative:ORG"


def test_match_collects_every_matching_record() -> None:
    a, b = er(rec(record_id="A")), er(rec(record_id="B", list_kind="focus"))
    am = match_measure(measure(kinds=("blacklist", "focus")), [a, b], date(2026, 3, 2))
    assert am is not None and am.record_ids == ("A", "B")
    assert match_measure(measure(kinds=("focus",)), [a], date(2026, 3, 2)) is None


def test_why_not_explains_each_reason() -> None:
    m = measure(domains=("tax",))
    on = date(2026, 3, 2)
    assert (
        why_not(m, "subsidy.apply", "blacklist", "tax", on)
        == "step subsidy.apply is not procurement.*"
    )
    assert why_not(m, "procurement.bid", "focus", "tax", on) == "list kind focus is not blacklist"
    assert why_not(m, "procurement.bid", "blacklist", "customs", on) == "domain customs is not tax"
    assert why_not(m, "procurement.bid", "blacklist", "tax", on) is None


# -- outcome -----------------------------------------------------------------------------


def am(
    effect: str, code: str | None = None, ids: tuple[str, ...] = ("R-1",), origin: str = "list"
) -> AppliedMeasure:
    return applied(
        measure(effect, code=code or f"M-{effect}"),
        [er(rec(record_id=i)) for i in ids],
        origin=origin,
    )


@pytest.mark.parametrize(
    ("effect", "outcome"),
    [
        ("deny", "deny"),
        ("restrict", "restrict"),
        ("strict_review", "review"),
        ("increase_inspection", "review"),
        ("notify", "allow"),
    ],
)
def test_outcome_of_each_effect(effect: str, outcome: str) -> None:
    biting, _ = combine([am(effect)], "procurement.bid")
    assert outcome_of(biting) == outcome


def test_notify_allows_but_is_listed() -> None:
    biting, conditions = combine([am("notify")], "market.entry")
    assert [a.code for a in biting] == ["M-notify"]
    assert conditions == ()
    assert outcome_of(biting) == "allow"


def test_no_commitment_bites_only_on_commitment_step() -> None:
    biting, conditions = combine([am("no_commitment")], "licensing.commitment")
    assert [a.effect for a in biting] == ["no_commitment"] and conditions == ()
    assert outcome_of(biting) == "review"
    for step in ("licensing.accept", "licensing.approve", "procurement.bid"):
        biting, conditions = combine([am("no_commitment")], step)
        assert biting == ()
        assert [a.effect for a in conditions] == ["no_commitment"]
        assert outcome_of(biting) == "allow"


def test_commitment_steps_are_configurable() -> None:
    biting, _ = combine([am("no_commitment")], "market.entry", commitment_steps=("market.*",))
    assert outcome_of(biting) == "review"


def test_no_measures_allow() -> None:
    assert outcome_of([]) == "allow"


_EFFECTS = list(EFFECT_RANK)
_candidates = st.lists(
    st.tuples(
        st.sampled_from(_EFFECTS),
        st.sampled_from(["A", "B", "C", "D"]),
        st.sampled_from(["R-1", "R-2", "R-3"]),
        st.sampled_from(["list", "plugin:x"]),
    ),
    min_size=1,
    max_size=8,
)


@given(
    _candidates,
    st.randoms(use_true_random=False),
    st.sampled_from(["procurement.bid", "licensing.commitment", "licensing.accept"]),
)
def test_most_severe_wins_whatever_the_order(
    spec: list[tuple[str, str, str, str]], rnd: Any, step: str
) -> None:
    cands = [am(e, code=c, ids=(r,), origin=o) for e, c, r, o in spec]
    shuffled = list(cands)
    rnd.shuffle(shuffled)
    first = combine(cands, step)
    second = combine(shuffled, step)
    assert first == second
    assert outcome_of(first[0]) == outcome_of(second[0])
    biting = [e for e, *_ in spec if e != "no_commitment" or step == "licensing.commitment"]
    rank = {"allow": 0, "review": 1, "restrict": 2, "deny": 3}
    expected = max((outcome_of([am(e)]) for e in biting), key=rank.__getitem__, default="allow")
    assert outcome_of(first[0]) == expected


def test_duplicate_codes_merge_records_and_keep_most_severe() -> None:
    biting, _ = combine(
        [am("restrict", "X", ("R-1",)), am("deny", "X", ("R-2",))], "procurement.bid"
    )
    assert len(biting) == 1
    assert biting[0].effect == "deny"
    assert set(biting[0].record_ids) == {"R-1", "R-2"}


def test_sorted_by_severity_then_code() -> None:
    biting, _ = combine(
        [am("notify", "Z"), am("deny", "B"), am("restrict", "A"), am("deny", "A2")],
        "procurement.bid",
    )
    assert [a.code for a in biting] == ["A2", "B", "A", "Z"]
