"""Fictional subjects, records and measure lists shared by the core tests.

Every code is made up and built with the check-character helpers; none
belongs to a real person or company. Dates are relative to today (CST) so
the data keeps its meaning whatever day the suite runs.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from creditguard.codes import org_code_check_char, resident_id_check_char, uscc_check_char
from creditguard.engine import today_cst
from creditguard.errors import SourceUnavailable
from creditguard.models import MeasureList, SubjectRecords

TODAY: date = today_cst()
REGION = "320100"
PROVINCE = "320000"


def uscc(division: str, body: str) -> str:
    """A valid USCC of an enterprise (authority 9, type 1) with an 8-character organisation body."""
    first17 = "91" + division + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


def resident_id(division: str, birth: str, seq: str) -> str:
    """A valid, made-up resident ID number."""
    first17 = division + birth + seq
    return first17 + resident_id_check_char(first17)


def day(offset: int) -> str:
    """ISO date ``offset`` days from today."""
    return (TODAY + timedelta(days=offset)).isoformat()


REP = resident_id("320102", "19800101", "123")  # legal representative of ORG_BLACK
PERSON_CLEAN = resident_id("320104", "19920315", "246")
ORG_BLACK = uscc("320100", "MA1W2K7D")
ORG_FOCUS = uscc("320100", "MA1X3L8E")
ORG_MULTI = uscc("320100", "MA20ABCD")
ORG_REPAIRED = uscc("320100", "MA21BCDE")
ORG_EXPIRED = uscc("320100", "MA22CDEF")
ORG_FUTURE = uscc("320100", "MA23DEFG")
ORG_CLEAN = uscc("320100", "MA24EFGH")

COURT = {"code": "320100-FY", "name": "南京市中级人民法院"}
TAXES = {"code": "320100-SW", "name": "国家税务总局南京市税务局"}
MARKET = {"code": "320100-SJ", "name": "南京市市场监督管理局"}
SAFETY = {"code": "320100-YJ", "name": "南京市应急管理局"}
PRIVATE_BASIS = "宁税稽罚〔2025〕7号"


def _org(code: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "kind": "organization", "name": name, **extra}


def _rec(
    record_id: str,
    list_kind: str,
    domain: str,
    authority: dict[str, str],
    basis: str,
    listed: int,
    expires: int | None,
    status: str = "listed",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "list_kind": list_kind,
        "domain": domain,
        "list_name": {"blacklist": "失信被执行人名单", "focus": "重点关注名单"}[list_kind],
        "authority": authority,
        "basis": basis,
        "listed_on": day(listed),
        "expires_on": day(expires) if expires is not None else None,
        "status": status,
        "region": REGION,
        **extra,
    }


def mirror_rows() -> list[dict[str, Any]]:
    """The JSONL rows of the test mirror."""
    black = _org(
        ORG_BLACK, "南京某某建设工程有限公司", legal_representative={"code": REP, "name": "张三"}
    )
    return [
        {
            "subject": black,
            "record": _rec(
                "JS-BL-1",
                "blacklist",
                "court_enforcement",
                COURT,
                "（2025）苏01执1234号",
                -300,
                430,
            ),
        },
        {
            "subject": _org(ORG_FOCUS, "南京某某贸易有限公司"),
            "record": _rec(
                "TAX-F-1", "focus", "tax", TAXES, "宁税稽罚〔2025〕88号", -100, None, "rectifying"
            ),
        },
        {
            "subject": _org(ORG_MULTI, "南京某某科技有限公司"),
            "record": _rec(
                "PC-BL-1", "blacklist", "procurement", MARKET, "宁财采罚〔2025〕3号", -50, 680
            ),
        },
        {
            "subject": _org(ORG_MULTI, "南京某某科技有限公司"),
            "record": _rec(
                "MR-F-1", "focus", "market_regulation", MARKET, "宁市监罚〔2025〕21号", -40, 320
            ),
        },
        {
            "subject": _org(ORG_MULTI, "南京某某科技有限公司"),
            "record": _rec(
                "SP-BL-1",
                "blacklist",
                "tax",
                TAXES,
                PRIVATE_BASIS,
                -30,
                700,
                public=False,
            ),
        },
        {
            "subject": _org(ORG_REPAIRED, "南京某某物流有限公司"),
            "record": _rec(
                "RP-BL-1",
                "blacklist",
                "court_enforcement",
                COURT,
                "（2024）苏01执77号",
                -500,
                230,
                "repaired",
            ),
        },
        {
            "subject": _org(ORG_EXPIRED, "南京某某餐饮有限公司"),
            "record": _rec(
                "EX-BL-1", "blacklist", "court_enforcement", COURT, "（2023）苏01执55号", -800, -10
            ),
        },
        {
            "subject": _org(ORG_FUTURE, "南京某某置业有限公司"),
            "record": _rec("FU-BL-1", "blacklist", "tax", TAXES, "宁税稽罚〔2026〕1号", 30, 760),
        },
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` as JSON lines."""
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


# What carries each measure (FACTS §4; docs/measure-lists.md rule 11f): a refusal in
# procurement of suppliers on the lists 财库〔2016〕125号 names (失信被执行人, 重大税收违法
# 案件当事人, 政府采购严重违法失信行为记录) and, for procurement's own list, 政府采购法 Art 77;
# a restriction of 失信被执行人 on 中办发〔2016〕64号 part 二.
PROCUREMENT_LAW = {"title": "《中华人民共和国政府采购法》", "article": "第七十七条", "level": "law"}
PROCUREMENT_NOTICE = {
    "title": "《关于在政府采购活动中查询及使用信用记录有关问题的通知》（财库〔2016〕125号）"
}
PROCUREMENT_DOMAINS = ("court_enforcement", "tax", "procurement")
COURT_POLICY = {
    "title": "《关于加快推进失信被执行人信用监督、警示和惩戒机制建设的意见》（中办发〔2016〕64号）",
    "article": "二",
    "level": "policy_document",
}
SHANGHAI_ART30 = "《上海市社会信用条例》第三十条"
COMPANY_LAW = {"title": "《中华人民共和国公司法》", "article": "第一百七十八条", "level": "law"}


def _measure(
    code: str,
    title: str,
    effect: str,
    kinds: list[str],
    steps: list[str],
    basis: Any,
    category: str = "rights_limiting",
    domains: tuple[str, ...] = ("*",),
    **extra: Any,
) -> dict[str, Any]:
    return {
        "code": code,
        "title": title,
        "category": category,
        "legal_basis": basis if isinstance(basis, list) else [basis],
        "applies_to": {"list_kinds": kinds, "domains": list(domains), "steps": steps},
        "effect": effect,
        **extra,
    }


def city_list_data() -> dict[str, Any]:
    """The 320100 list as a dict (spec §5.1 shape)."""
    return {
        "region": REGION,
        "version": "2026.1",
        "issued_by": "南京市社会信用体系建设领导小组办公室",
        "extends": PROVINCE,
        "measures": [
            _measure(
                "NJ-01",
                "限制参加政府采购活动",
                "deny",
                ["blacklist"],
                ["procurement.*"],
                [PROCUREMENT_LAW, PROCUREMENT_NOTICE],
                domains=PROCUREMENT_DOMAINS,
            ),
            _measure(
                "NJ-02",
                "限制申请财政补贴",
                "restrict",
                ["blacklist"],
                ["subsidy.*"],
                COURT_POLICY,
                domains=("court_enforcement",),
            ),
            _measure(
                "NJ-03",
                "列为行政许可重点审查对象",
                "strict_review",
                ["focus"],
                ["licensing.*"],
                SHANGHAI_ART30,
                "management",
            ),
            _measure(
                "NJ-04",
                "不适用告知承诺制",
                "no_commitment",
                ["focus"],
                ["licensing.*"],
                SHANGHAI_ART30,
                "management",
            ),
            _measure(
                "NJ-05",
                "市场准入时提示相关失信信息",
                "notify",
                ["blacklist", "focus"],
                ["market.entry"],
                "《南京市社会信用条例》第三十一条",
                "market_social",
            ),
            _measure(
                "NJ-06",
                "限制担任法定代表人、董事、高级管理人员",
                "deny",
                ["blacklist"],
                ["appointment.qualify"],
                COMPANY_LAW,
                domains=("court_enforcement",),
                extends_to=["legal_representative"],
            ),
        ],
    }


def province_list_data() -> dict[str, Any]:
    """The 320000 list the city list extends."""
    return {
        "region": PROVINCE,
        "version": "2025.2",
        "issued_by": "江苏省社会信用体系建设领导小组办公室",
        "measures": [
            _measure(
                "JS-01",
                "列入双随机抽查重点对象",
                "increase_inspection",
                ["focus"],
                ["inspection.plan"],
                "《江苏省社会信用条例》第三十二条",
                "management",
            ),
        ],
    }


def measure_lists() -> list[MeasureList]:
    """The city and province lists, validated."""
    return [
        MeasureList.model_validate(city_list_data()),
        MeasureList.model_validate(province_list_data()),
    ]


class FlakySource:
    """A LocalSource that delegates to ``inner`` and counts calls; fails while ``failing`` is set."""

    def __init__(self, inner: Any, name: str = "mirror", *, failing: bool = False) -> None:
        self.inner = inner
        self.name = name
        self.failing = failing
        self.calls = 0

    def lookup(self, codes: Any, *, include_related: bool = False) -> dict[str, SubjectRecords]:
        self.calls += 1
        if self.failing:
            raise SourceUnavailable("platform answered 503", source=self.name)
        return dict(self.inner.lookup(codes, include_related=include_related))


class DownSource:
    """A LocalSource that is always unavailable."""

    def __init__(self, name: str = "platform") -> None:
        self.name = name
        self.calls = 0

    def lookup(self, codes: Any, *, include_related: bool = False) -> dict[str, SubjectRecords]:
        self.calls += 1
        raise SourceUnavailable("connection refused", source=self.name)
