"""The Shanghai pack: layered on the statutes pack, validates clean, follows Arts 30, 31, 33."""

from __future__ import annotations

from datetime import date

from creditguard_measures_shanghai.plugin import LISTS
from creditguard_measures_statutes.plugin import LISTS as NATIONAL

from creditguard.measures import MeasureCatalog, installed_pack_lists, validate_lists
from creditguard.measures.applicability import explain_step

ON = date(2026, 3, 2)


def test_validates_clean_on_the_national_pack() -> None:
    problems = validate_lists([*NATIONAL, *LISTS])
    assert [p for p in problems if p.severity == "error"] == []
    assert [p for p in problems if "310000" in (p.file or "")] == []


def test_every_measure_cites_the_regulation_with_its_level() -> None:
    for m in LISTS[0].measures:
        assert all(
            b.title == "《上海市社会信用条例》" and b.level == "local_regulation"
            for b in m.legal_basis
        )
        assert {b.article for b in m.legal_basis} <= {"第三十条", "第三十一条", "第三十三条"}
        # restrict and deny reduce rights: only rights_limiting measures carry them
        # (a local regulation may carry one under 国办发〔2020〕49号).
        assert (m.effect in ("restrict", "deny")) == (m.category == "rights_limiting"), m.code
    assert LISTS[0].standing == "compilation"


def test_layered_over_national() -> None:
    resolved = MeasureCatalog([*NATIONAL, *LISTS]).resolve("310115", ON)
    assert resolved.chain == (("310000", "2025.1"), ("000000", "2025.1"))
    origins = {rm.measure.code: rm.list_region for rm in resolved.measures}
    assert origins["SH-01"] == "310000" and origins["ST-01"] == "000000"


def test_focus_list_at_licensing() -> None:
    resolved = MeasureCatalog([*NATIONAL, *LISTS]).resolve("310000", ON)
    verdicts = {v.code: v.status for v in explain_step(resolved, "licensing.commitment", "focus")}
    assert verdicts["SH-01"] == "no"  # key review is for accept/approve
    assert verdicts["SH-02"] == "applies"  # no approval by commitment


def test_legal_representative_reached_at_appointment() -> None:
    resolved = MeasureCatalog([*NATIONAL, *LISTS]).resolve("310000", ON)
    verdicts = {
        v.code: v.status
        for v in explain_step(
            resolved, "appointment.qualify", "blacklist", role="legal_representative"
        )
    }
    assert verdicts["SH-11"] == "applies"


def test_registered_through_the_entry_point() -> None:
    assert ("310000", "2025.1") in {(x.region, x.version) for x in installed_pack_lists()}
