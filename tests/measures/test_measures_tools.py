"""explain, diff and schema."""

from __future__ import annotations

import json
from datetime import date

from _measure_lists import DENY_BASIS, RESTRICT_BASIS, head, measure

from creditguard.measures import MeasureCatalog, parse_measure_list
from creditguard.measures.applicability import explain_step
from creditguard.measures.diff import diff_lists
from creditguard.measures.schema import measure_list_schema

BASE = head("000000", "1", published="2025-01-01", effective="2025-01-01")
#: Restricts at subsidy steps, for records of any list kind and domain (FACTS §4).
SH30 = '"《上海市社会信用条例》第三十条"'


def test_explain_says_why_each_measure_does_not_apply() -> None:
    lst = parse_measure_list(
        BASE
        + measure("A", steps='["subsidy.*"]', effect="restrict", domains='["*"]', basis=SH30)
        + measure("B", steps='["procurement.*"]')
        + measure("C", kinds='["focus"]', steps='["subsidy.*"]', effect="restrict", basis=SH30)
        + measure("D", domains='["tax"]', steps='["subsidy.*"]', effect="restrict", basis=SH30)
        + measure(
            "E",
            steps='["subsidy.*"]',
            effect="restrict",
            basis=SH30,
            extra="effective_from = 2027-01-01\n",
        )
        + measure("F", category="management", steps='["subsidy.*"]', effect="no_commitment")
        + measure("0-N", category="management", steps='["subsidy.*"]', effect="notify")
    )
    resolved = MeasureCatalog([lst]).resolve("000000", date(2026, 3, 1))
    v = {
        x.code: x for x in explain_step(resolved, "subsidy.apply", "blacklist", "court_enforcement")
    }
    assert v["A"].applies and v["A"].reason == "applies (blacklist, any domain, subsidy.*)"
    assert v["B"].reason == "does not apply: step subsidy.apply is not procurement.*"
    assert v["C"].reason == "does not apply: list kind blacklist is not focus"
    assert v["D"].reason == "does not apply: domain court_enforcement is not tax"
    assert v["E"].reason == "does not apply: not in force until 2027-01-01"
    assert v["F"].status == "condition"
    ordered = [x.code for x in explain_step(resolved, "subsidy.apply", "blacklist")]
    # No domain given: D applies too; most severe first, then by code.
    assert ordered[:3] == ["A", "D", "0-N"]


def test_explain_related_person_and_withdrawn() -> None:
    parent = parse_measure_list(
        BASE + measure("A", extra='extends_to = ["legal_representative"]\n') + measure("B")
    )
    child = parse_measure_list(
        head("320000", "1", extends="000000", published="2025-01-01", effective="2025-01-01")
        + '\n[[withdraws]]\ncode = "B"\nreason = "本省不适用"\n'
    )
    resolved = MeasureCatalog([parent, child]).resolve("320000", date(2026, 1, 1))
    v = {
        x.code: x
        for x in explain_step(resolved, "procurement.bid", "blacklist", role="legal_representative")
    }
    assert v["A"].applies and "also legal_representative" in v["A"].reason
    assert v["B"].status == "withdrawn" and v["B"].reason == "withdrawn by 320000: 本省不适用"


def test_diff_field_by_field() -> None:
    # A cites what carries both its old refusal and its new restriction.
    a = {"basis": f"{DENY_BASIS}, {RESTRICT_BASIS}", "domains": '["court_enforcement"]'}
    old = parse_measure_list(BASE + measure("A", **a) + measure("B"))
    new = parse_measure_list(
        head("000000", "2", published="2025-01-01", effective="2025-01-01")
        + measure("A", steps='["procurement.bid"]', effect="restrict", **a)
        + measure("C")
    )
    d = diff_lists(old, new)
    assert [(c.field, c.old, c.new) for c in d.head] == [("version", "1", "2")]
    kinds = {m.code: m.kind for m in d.measures}
    assert kinds == {"A": "changed", "B": "removed", "C": "added"}
    [a] = [m for m in d.measures if m.code == "A"]
    assert [(c.field, c.old, c.new) for c in a.changes] == [
        ("applies_to.steps", ["procurement.*"], ["procurement.bid"]),
        ("effect", "deny", "restrict"),
    ]
    assert diff_lists(old, old).empty


def test_schema_has_descriptions_and_rejects_unknown_top_level() -> None:
    schema = measure_list_schema()
    assert schema["additionalProperties"] is False
    assert "$schema" in schema and schema["title"] == "creditguard measure list"
    for name in ("region", "extends", "measures"):
        assert schema["properties"][name]["description"]
    measure_props = schema["$defs"]["Measure"]["properties"]
    assert all(p.get("description") for p in measure_props.values())
    assert set(measure_props["effect"]["enum"]) >= {"deny", "no_commitment"}
    items = measure_props["legal_basis"]["items"]["anyOf"]
    assert {"type": "string", "minLength": 1}.items() <= items[1].items()
    json.dumps(schema)  # serialisable
    measure_list_schema()["title"] = "changed"
    assert measure_list_schema()["title"] == "creditguard measure list"
