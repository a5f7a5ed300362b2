"""Golden decisions: the full Chinese text of representative decisions, compared exactly.

Any wording change shows as a reviewed diff of ``tests/measures/golden/*.txt``.
Regenerate after a deliberate change with::

    CREDITGUARD_REGEN_GOLDEN=1 .venv/bin/pytest -q tests/measures/test_golden_text.py

and review ``git diff tests/measures/golden``. The decisions are built here
directly (no clock, no I/O), so the texts are stable.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from creditguard.explain import explain, repair_text, step_label
from creditguard.models import (
    AppliedMeasure,
    CreditRecord,
    Decision,
    EffectiveRecord,
    LegalBasis,
    Provenance,
)

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("CREDITGUARD_REGEN_GOLDEN") == "1"
CST = timezone(timedelta(hours=8))
ORG = "91320100MA1W2K7D41"
OTHER_ORG = "91310101MA1FL3K88W"
PERSON = "320102198001011234"

GPL = LegalBasis(title="《中华人民共和国政府采购法》", article="第七十七条", level="law")
GPL22 = LegalBasis(title="《中华人民共和国政府采购法》", article="第二十二条", level="law")
CK125 = LegalBasis(
    title="《关于在政府采购活动中查询及使用信用记录有关问题的通知》（财库〔2016〕125号）",
    level="normative_document",
)
ZB64 = LegalBasis(
    title="《关于加快推进失信被执行人信用监督、警示和惩戒机制建设的意见》（中办发〔2016〕64号）",
    article="二",
    level="policy_document",
)
SH30 = LegalBasis(title="《上海市社会信用条例》", article="第三十条", level="local_regulation")
QY18 = LegalBasis(
    title="《企业信息公示暂行条例》", article="第十八条", level="administrative_regulation"
)


def record(
    rid: str = "R-1",
    *,
    kind: str = "blacklist",
    domain: str = "procurement",
    name: str = "政府采购严重违法失信行为记录名单",
    public: bool = True,
    role: str = "self",
    via: str | None = None,
    listed: date = date(2025, 11, 3),
    expires: date | None = date(2028, 11, 2),
    **extra: Any,
) -> EffectiveRecord:
    authority = {
        "procurement": "南京市财政局",
        "court_enforcement": "南京市中级人民法院",
        "market_regulation": "南京市市场监督管理局",
        "safety_production": "南京市应急管理局",
    }.get(domain, "有关部门")
    r = CreditRecord.model_validate(
        {
            "record_id": rid,
            "list_kind": kind,
            "domain": domain,
            "list_name": name,
            "authority": {"code": "X", "name": authority},
            "basis": f"宁{rid}〔2025〕1号",
            "listed_on": listed,
            "expires_on": expires,
            "status": "listed",
            "public": public,
            "region": "320100",
            "role": role,
            "via": via,
            **extra,
        }
    )
    return EffectiveRecord(record=r, source="mirror", subject_code=via or ORG, sources=("mirror",))


def applied(
    code: str,
    title: str,
    effect: str,
    bases: tuple[LegalBasis, ...],
    rids: tuple[str, ...] = ("R-1",),
    *,
    category: str = "rights_limiting",
    via: str | None = None,
) -> AppliedMeasure:
    return AppliedMeasure(
        code=code,
        title=title,
        effect=effect,  # type: ignore[arg-type]
        category=category,  # type: ignore[arg-type]
        legal_basis=bases,
        list_region="320100",
        record_ids=rids,
        via=via,
    )


def decision(**kw: Any) -> Decision:
    on = kw.pop("as_of", date(2026, 3, 2))
    base: dict[str, Any] = {
        "decision_id": "d-golden",
        "subject_code": ORG,
        "subject_kind": "organization",
        "subject_name": "南京示例供应链有限公司",
        "step": "procurement.bid",
        "region": "320100",
        "as_of": on,
        "outcome": "allow",
        "list_region": "320100",
        "list_version": "2026.1",
        "list_issued_by": "南京市社会信用体系建设领导小组办公室",
        "list_standing": "official",
        "provenance": (
            Provenance(
                source="mirror",
                fetched_at=datetime(on.year, on.month, on.day, 9, 30, tzinfo=CST),
                data_as_of=datetime(on.year, on.month, on.day, 6, 0, tzinfo=CST),
            ),
        ),
        "decided_at": datetime(on.year, on.month, on.day, 9, 30, tzinfo=CST),
    }
    base.update(kw)
    return Decision.model_validate(base)


S01 = applied(
    "S-01", "列入政府采购严重违法失信行为记录名单期间禁止参加政府采购活动", "deny", (GPL,)
)
ST11 = applied("ST-11", "失信被执行人：拒绝其参加政府采购活动", "deny", (ZB64, CK125), ("R-C",))
COURT = record("R-C", domain="court_enforcement", name="失信被执行人名单")

CASES: dict[str, Decision] = {
    "01-clean-allow": decision(),
    "02-clean-not-found": decision(
        provenance=(
            Provenance(
                source="platform",
                fetched_at=datetime(2026, 3, 2, 9, 30, tzinfo=CST),
                found=False,
            ),
        )
    ),
    "03-deny-procurement": decision(outcome="deny", records=(record(),), measures=(S01,)),
    "04-deny-two-articles-cited-once": decision(
        outcome="deny",
        records=(record(),),
        measures=(applied("S-02", "禁止参加政府采购活动", "deny", (GPL22, GPL)),),
    ),
    "05-restrict-market-regulation": decision(
        outcome="restrict",
        step="tendering.bid",
        records=(record(domain="market_regulation", name="严重违法失信企业名单"),),
        measures=(
            applied(
                "ST-02",
                "严重违法失信企业在政府采购、工程招投标、国有土地出让、授予荣誉称号中予以限制",
                "restrict",
                (QY18,),
            ),
        ),
    ),
    "06-strict-review-focus": decision(
        outcome="review",
        step="subsidy.apply",
        records=(record(kind="focus", domain="other", name=""),),
        measures=(
            applied(
                "NJ-02",
                "重点关注名单主体申请市级财政补贴时予以重点审查",
                "strict_review",
                (SH30,),
                category="management",
            ),
        ),
    ),
    "07-no-commitment-at-commitment-step": decision(
        outcome="review",
        step="licensing.commitment",
        records=(record(kind="focus", domain="market_regulation", name="经营异常名录"),),
        measures=(
            applied(
                "SH-02",
                "一般失信：不适用告知承诺等简化程序",
                "no_commitment",
                (SH30,),
                category="management",
            ),
        ),
    ),
    "08-no-commitment-as-condition": decision(
        outcome="review",
        step="licensing.approve",
        records=(record(kind="focus", domain="market_regulation", name="经营异常名录"),),
        measures=(
            applied(
                "SH-01",
                "一般失信：在行政许可中列为重点审查对象",
                "strict_review",
                (SH30,),
                category="management",
            ),
        ),
        conditions=(
            applied(
                "SH-02",
                "一般失信：不适用告知承诺等简化程序",
                "no_commitment",
                (SH30,),
                category="management",
            ),
        ),
    ),
    "09-increase-inspection": decision(
        outcome="allow",
        step="inspection.plan",
        records=(record(kind="focus", domain="other", name="重点关注名单"),),
        measures=(
            applied(
                "SH-04",
                "一般失信：提高监督检查频次",
                "increase_inspection",
                (SH30,),
                category="management",
            ),
        ),
    ),
    "10-notify": decision(
        outcome="allow",
        step="public_service.apply",
        records=(record(kind="focus", domain="other", name=""),),
        measures=(applied("X-01", "提示其诚信守法", "notify", (SH30,), category="management"),),
    ),
    "11-court-record-court-route": decision(outcome="deny", records=(COURT,), measures=(ST11,)),
    "12-court-and-procurement-both-routes": decision(
        outcome="deny", records=(record(), COURT), measures=(S01, ST11)
    ),
    "13-person-as-legal-representative": decision(
        subject_code=PERSON,
        subject_kind="person",
        subject_name="张三",
        outcome="review",
        step="appointment.qualify",
        records=(
            record(
                "R-P",
                domain="other",
                name="严重失信主体名单",
                role="legal_representative",
                via=OTHER_ORG,
                via_name="上海示例建设工程有限公司",
            ),
        ),
        measures=(
            applied(
                "SH-11",
                "严重失信主体的法定代表人：任职资格审查中列为重点审查对象",
                "strict_review",
                (SH30,),
                ("R-P",),
                category="management",
                via=f"legal_representative:{OTHER_ORG}",
            ),
        ),
    ),
    "14-non-public-record-counted-not-shown": decision(
        outcome="deny",
        records=(record(), record("R-S", domain="safety_production", public=False)),
        measures=(S01,),
    ),
    "15-measure-only-on-non-public-record": decision(
        outcome="deny",
        records=(
            record(
                "R-S", domain="safety_production", name="安全生产严重失信主体名单", public=False
            ),
        ),
        measures=(applied("X-09", "禁止参加政府采购活动", "deny", (GPL,), ("R-S",)),),
    ),
    "16-outage-hold": decision(
        outcome="review",
        verified=False,
        degraded_reason="platform: deadline exceeded",
        provenance=(
            Provenance(
                source="platform",
                fetched_at=datetime(2026, 3, 2, 9, 30, tzinfo=CST),
                error="deadline exceeded",
                found=False,
            ),
        ),
    ),
    "17-outage-allow-policy": decision(
        outcome="allow",
        verified=False,
        degraded_reason="platform: 503",
        provenance=(
            Provenance(
                source="platform",
                fetched_at=datetime(2026, 3, 2, 9, 30, tzinfo=CST),
                error="503",
                found=False,
            ),
        ),
    ),
    "18-stale-cache": decision(
        outcome="deny",
        verified=False,
        stale=True,
        stale_age_s=7200.0,
        records=(record(),),
        measures=(S01,),
    ),
    "19-replay-on-today-status": decision(
        as_of=date(2025, 3, 1),
        outcome="deny",
        replay_uses_current_status=True,
        records=(record(listed=date(2024, 5, 10)),),
        measures=(S01,),
    ),
    "20-era-before-893": decision(
        as_of=date(2017, 6, 1),
        outcome="deny",
        records=(record(listed=date(2017, 1, 1), expires=None),),
        measures=(S01,),
    ),
    "21-era-893": decision(
        as_of=date(2019, 6, 1),
        outcome="deny",
        records=(record(listed=date(2019, 1, 1)),),
        measures=(S01,),
    ),
    "22-era-2021-no-national-rule": decision(
        as_of=date(2022, 6, 1),
        outcome="deny",
        records=(record(listed=date(2022, 1, 1)),),
        measures=(S01,),
    ),
    "23-era-order-58": decision(
        as_of=date(2024, 6, 1),
        outcome="deny",
        records=(record(listed=date(2024, 1, 1)),),
        measures=(S01,),
    ),
    "24-era-order-36": decision(
        as_of=date(2026, 11, 28),
        outcome="deny",
        records=(record(),),
        measures=(S01,),
    ),
    "25-compilation-list": decision(
        outcome="deny",
        records=(COURT,),
        measures=(ST11,),
        list_region="000000",
        list_version="2025.1",
        list_issued_by="creditguard 项目据法律、行政法规和中央政策文件整理（非官方清单）",
        list_standing="compilation",
    ),
    "26-example-list": decision(
        outcome="deny",
        records=(record(),),
        measures=(S01,),
        list_issued_by="示例：南京市（虚构清单，仅供演示）",
        list_standing="example",
    ),
    "27-own-step-and-unknown-district": decision(
        step="housing.allocate", region="320115", outcome="allow"
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_text(name: str) -> None:
    text = explain(CASES[name])
    path = GOLDEN / f"{name}.txt"
    if REGEN:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    assert path.exists(), f"missing {path}; regenerate with CREDITGUARD_REGEN_GOLDEN=1"
    assert text + "\n" == path.read_text(encoding="utf-8")


def test_enough_reviewed_decisions() -> None:
    assert len(CASES) >= 20
    effects = {am.effect for d in CASES.values() for am in (*d.measures, *d.conditions)}
    assert effects == {
        "deny",
        "restrict",
        "strict_review",
        "no_commitment",
        "increase_inspection",
        "notify",
    }


# Internal identifiers that must never appear in text shown to applicants.
_INTERNAL = re.compile(
    r"court_enforcement|market_regulation|procurement|licensing|blacklist|focus|rights_limiting|"
    r"strict_review|no_commitment|deny|restrict|mirror|platform|\b\d{6}\b(?!号)|黑名单"
)


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_internal_identifiers_or_english(name: str) -> None:
    text = explain(CASES[name])
    assert not _INTERNAL.search(text), _INTERNAL.search(text)
    assert PERSON not in text
    # Only codes (measure codes, organisation codes, document numbers) are Latin.
    words = re.findall(r"[A-Za-z]{3,}", text)
    assert set(words) <= {"creditguard"}, words


def test_non_public_measure_hidden_from_applicant_shown_to_officer() -> None:
    d = CASES["15-measure-only-on-non-public-record"]
    assert "X-09" not in explain(d) and "另有 1 项失信惩戒措施" in explain(d)
    assert "X-09" in explain(d, audience="officer")
    assert d.outcome == "deny" and "不予通过" in explain(d)


def test_outage_is_not_a_punishment() -> None:
    text = explain(CASES["16-outage-hold"])
    assert "信用信息暂未能核验" in text and "转人工核验" in text and "重点审查" not in text
    assert "deadline" not in text


def test_remedy_follows_the_decision_date() -> None:
    assert "893" in repair_text(date(2019, 6, 1))
    assert "第58号" in repair_text(date(2026, 3, 31))
    assert "第36号" in repair_text(date(2026, 4, 1))
    late = explain(CASES["24-era-order-36"])
    assert "第36号" in late and "893" not in late and "第58号" not in late
    assert "893" not in repair_text(date(2021, 1, 1)) and "办法" not in repair_text(
        date(2022, 1, 1)
    )


def test_court_records_name_the_court_not_credit_repair() -> None:
    text = explain(CASES["11-court-record-court-route"])
    assert "人民法院" in text and "信用修复管理办法" not in text


def test_step_labels_cover_spec_8() -> None:
    from creditguard.steps import KNOWN_STEPS

    for step in KNOWN_STEPS:
        assert step_label(step) != "本办理事项", step
