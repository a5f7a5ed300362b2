"""A rights-limiting measure's cited articles must carry it (issue 9; docs/measure-lists.md rules 11f–11h).

What each article carries comes from the instruments table (FACTS §4 only);
an article the table does not describe is of unknown content: a warning.
:func:`creditguard.measures.carry.carry_problems` runs inside ``check_list``
(``onelist._basis_problems``), so these tests read the list's own validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from creditguard.errors import ConfigError, Problem
from creditguard.measures.basis import BasisPolicy
from creditguard.measures.instruments import (
    article_keys,
    cited_articles,
    instruments,
    load_files,
)
from creditguard.measures.validate import check_text

HEAD = """
region = "320000"
version = "t"
published_on = 2025-01-01
effective_from = 2025-01-01
"""


def measure(basis: str, *, effect: str = "deny", kinds: str = '["blacklist"]',
            domains: str = '["procurement"]', steps: str = '["procurement.*"]',
            category: str = "rights_limiting") -> str:  # fmt: skip
    return (
        HEAD
        + f"""
[[measures]]
code = "M-1"
title = "措施"
category = "{category}"
effect = "{effect}"
legal_basis = [{basis}]
applies_to = {{ list_kinds = {kinds}, domains = {domains}, steps = {steps} }}
"""
    )


ART22 = '{ title = "《中华人民共和国政府采购法》", article = "第二十二条", level = "law" }'
ART77 = '{ title = "《中华人民共和国政府采购法》", article = "第七十七条", level = "law" }'
RULE = "basis does not carry the measure"


def problems(text: str, policy: BasisPolicy | None = None) -> list[Problem]:
    return list(check_text(text, name="t.toml", policy=policy).problems)


def carry_errors(text: str, policy: BasisPolicy | None = None) -> list[Problem]:
    return [p for p in problems(text, policy) if p.severity == "error" and RULE in p.message]


def warnings(text: str) -> list[Problem]:
    return [p for p in problems(text) if p.severity == "warning"]


def test_art22_for_blacklisted_procurement_suppliers_is_an_error() -> None:
    (err,) = carry_errors(measure(ART22))
    assert err.measure == "M-1" and err.field == "legal_basis"
    assert "第22条" in err.message and "records on no list" in err.message
    assert "重大违法记录" in err.message and "rule:" in err.message


def test_art22_in_string_form_is_judged_the_same() -> None:
    assert carry_errors(measure('"《中华人民共和国政府采购法》第二十二条"'))


def test_art77_for_procurement_records_is_fine() -> None:
    text = measure(ART77)
    assert carry_errors(text) == []
    assert [p for p in problems(text) if p.severity == "error"] == []


def test_art22_and_art77_together_are_fine() -> None:
    both = '"《中华人民共和国政府采购法》第二十二条、第七十七条"'
    assert carry_errors(measure(both)) == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"domains": '["tax"]'}, "domains tax"),
        ({"domains": '["*"]'}, "domains *"),
        ({"kinds": '["focus"]'}, "list kinds focus"),
        ({"steps": '["subsidy.*"]'}, "steps subsidy.*"),
        ({"effect": "restrict"}, "effect restrict"),
    ],
)
def test_art77_wider_than_its_targets_is_an_error(change: dict[str, Any], why: str) -> None:
    (err,) = carry_errors(measure(ART77, **change))
    assert why in err.message


def test_notification_alone_carries_nothing() -> None:
    spc = '{ title = "《最高人民法院关于公布失信被执行人名单信息的若干规定》（法释〔2017〕7号）", article = "第八条" }'
    (err,) = carry_errors(
        measure(spc, effect="restrict", domains='["court_enforcement"]', steps='["subsidy.*"]')
    )
    assert "carries no measure itself" in err.message


def test_64_restricts_but_does_not_refuse() -> None:
    opinion = '{ title = "《关于加快推进失信被执行人信用监督、警示和惩戒机制建设的意见》（中办发〔2016〕64号）", article = "二" }'
    args = {"domains": '["court_enforcement"]', "steps": '["licensing.approve"]'}
    assert carry_errors(measure(opinion, effect="restrict", **args)) == []
    assert carry_errors(measure(opinion, effect="deny", **args))


def test_whole_document_entry_judges_a_basis_without_article() -> None:
    notice = '{ title = "《关于在政府采购活动中查询及使用信用记录有关问题的通知》（财库〔2016〕125号）" }'
    court = measure(notice, domains='["court_enforcement"]')
    assert carry_errors(court) == []
    assert not any("cites no article" in p.message for p in problems(court))
    assert carry_errors(measure(notice, effect="restrict"))  # it says refuse


def test_unknown_article_is_a_warning_not_an_error() -> None:
    art10 = '{ title = "《中华人民共和国政府采购法》", article = "第十条", level = "law" }'
    text = measure(art10)
    assert carry_errors(text) == []
    (w,) = [p for p in warnings(text) if "content of" in p.message]
    assert "第10条" in w.message and w.field == "legal_basis.0.article"


def test_one_unknown_article_beside_a_wrong_one_is_not_refused() -> None:
    text = measure('"《中华人民共和国政府采购法》第二十二条、第十条"')
    assert carry_errors(text) == []
    assert any("content of" in p.message for p in warnings(text))


def test_unknown_instrument_beside_a_wrong_article_is_not_refused_by_this_rule() -> None:
    text = measure(
        ART22
        + ', { title = "《某省政府采购条例》", article = "第五条", level = "local_regulation" }'
    )
    assert carry_errors(text) == []


def test_management_measures_are_not_judged_for_carrying() -> None:
    text = measure(ART22, effect="strict_review", category="management")
    assert carry_errors(text) == []
    assert not any("content of" in p.message for p in warnings(text))


def test_unreadable_article_text_is_a_warning() -> None:
    basis = '{ title = "《中华人民共和国政府采购法》", article = "Art 22", level = "law" }'
    assert any("names no article" in p.message for p in warnings(measure(basis)))


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("第二十二条", (("条", 22),)),
        ("第22条", (("条", 22),)),
        ("第一百零八条第一款第（五）项", (("条", 108),)),
        ("第二十二条、第七十七条", (("条", 22), ("条", 77))),
        ("第十条", (("条", 10),)),
        ("二", (("part", 2),)),
        ("（二）", (("part", 2),)),
        ("Art 22", ()),
        ("", ()),
    ],
)
def test_article_keys(text: str, keys: tuple[tuple[str, int], ...]) -> None:
    assert article_keys(text) == keys


def test_cited_articles_reads_the_title_after_the_brackets() -> None:
    assert cited_articles("《中华人民共和国政府采购法》第七十七条", "") == (("条", 77),)
    # a document number's 第58号 is not an article
    assert (
        cited_articles(
            "《失信行为纠正后的信用信息修复管理办法（试行）》（国家发展改革委令第58号）", ""
        )
        == ()
    )


def test_every_shipped_article_fact_has_a_mark_and_a_source() -> None:
    facts = [f for e in instruments().entries for f in e.articles.values()]
    assert len(facts) >= 15
    assert all(f.mark in ("checked", "reported", "open") and f.source for f in facts)
    # FACTS gives no article counts: none is shipped (never invented)
    assert all(e.article_count is None for e in instruments().entries)


# --- an agency's own instruments file ([measures] instruments) --------------------------------

AGENCY = """
[[instruments]]
name = "南京市社会信用条例"
level = "local_regulation"
in_force_from = 2020-01-01
article_count = 40

[[instruments.articles]]
article = "第二十条"
carries = [{ effects = ["restrict"], list_kinds = ["blacklist"], steps = ["subsidy.*"] }]
mark = "checked"
source = "南京市人大常委会公告（示例）"

[[instruments]]
name = "中华人民共和国政府采购法"
level = "law"
issuer = "全国人民代表大会常务委员会"
in_force_from = 2003-01-01

[[instruments.articles]]
article = "第七十八条"
carries = []
mark = "reported"
source = "示例"
"""


def agency_policy(tmp_path: Path, text: str = AGENCY) -> BasisPolicy:
    path = tmp_path / "instruments.toml"
    path.write_text(text, encoding="utf-8")
    return BasisPolicy(table=load_files([path]))


def test_agency_file_adds_instruments_and_articles(tmp_path: Path) -> None:
    policy = agency_policy(tmp_path)
    nj = '{ title = "《南京市社会信用条例》", article = "第二十条" }'
    ok = measure(nj, effect="restrict", domains='["*"]', steps='["subsidy.apply"]')
    assert [p for p in problems(ok, policy) if p.severity == "error"] == []
    assert carry_errors(measure(nj, effect="deny", steps='["subsidy.apply"]'), policy)
    # shipped facts are kept
    assert carry_errors(measure(ART22), policy)


def test_article_beyond_the_count_does_not_exist(tmp_path: Path) -> None:
    policy = agency_policy(tmp_path)
    nj41 = '{ title = "《南京市社会信用条例》", article = "第四十一条" }'
    errs = [p for p in problems(measure(nj41, effect="strict_review", category="management"), policy)
            if p.severity == "error"]  # fmt: skip
    assert len(errs) == 1 and "does not exist" in errs[0].message
    assert errs[0].field == "legal_basis.0.article"


def test_agency_file_may_not_redescribe_a_shipped_article(tmp_path: Path) -> None:
    text = AGENCY.replace("第七十八条", "第二十二条")
    with pytest.raises(ConfigError, match="already described"):
        agency_policy(tmp_path, text)


def test_agency_file_may_not_change_a_shipped_level(tmp_path: Path) -> None:
    text = AGENCY.replace('level = "law"', 'level = "local_regulation"')
    with pytest.raises(ConfigError, match="level or dates differ"):
        agency_policy(tmp_path, text)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ('mark = "checked"', 'mark = "sure"', "mark must be"),
        ('source = "南京市人大常委会公告（示例）"', 'source = ""', "source"),
        ('effects = ["restrict"]', 'effects = ["ban"]', "unknown 'ban'"),
        ('article = "第二十条"', 'article = "第五十条"', "beyond article_count"),
    ],
)
def test_bad_agency_file_is_a_config_error(tmp_path: Path, old: str, new: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        agency_policy(tmp_path, AGENCY.replace(old, new, 1))


def test_configuration_names_the_agency_file(tmp_path: Path) -> None:
    from creditguard.config import config_from_dict
    from creditguard.measures.installed import basis_policy

    (tmp_path / "instruments.toml").write_text(AGENCY, encoding="utf-8")
    cfg = config_from_dict({"measures": {"instruments": ["instruments.toml"]}}, base_dir=tmp_path)
    policy = basis_policy(cfg)
    assert policy.instruments().lookup("《南京市社会信用条例》") is not None
    nj = '{ title = "《南京市社会信用条例》", article = "第二十条" }'
    assert carry_errors(measure(nj, effect="deny", steps='["subsidy.apply"]'), policy)
    missing = config_from_dict({"measures": {"instruments": ["nope.toml"]}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="cannot read"):
        basis_policy(missing)
