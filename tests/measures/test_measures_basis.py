"""Legal-basis levels come from the shipped instruments table, never from a word in the title."""

from __future__ import annotations

from datetime import date

import pytest

from creditguard.measures.basis import (
    DEFAULT_RIGHTS_LIMITING_LEVELS,
    JUDICIAL_INTERPRETATION,
    BasisPolicy,
    basis_kind,
    instrument_name,
    judge_basis,
)
from creditguard.measures.instruments import instruments
from creditguard.models import LegalBasis


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("《中华人民共和国政府采购法》", "law"),
        ("《中华人民共和国政府采购法》第七十七条", "law"),
        ("《企业信息公示暂行条例》", "administrative_regulation"),
        ("《上海市社会信用条例》", "local_regulation"),
        ("《关于在政府采购活动中查询及使用信用记录有关问题的通知》", "normative_document"),
        ("中办发〔2016〕64号", "policy_document"),
        ("《最高人民法院关于公布失信被执行人名单信息的若干规定》", JUDICIAL_INTERPRETATION),
        # Not in the table: a title alone never settles a level.
        ("《随便什么法》", None),
        ("《中华人民共和国民法典》", None),
        ("《南京市社会信用条例》", None),
        ("某某规定", None),
    ],
)
def test_level_only_from_the_table(title: str, level: str | None) -> None:
    assert basis_kind(LegalBasis(title=title)) == level


def test_a_word_in_the_title_is_not_a_level() -> None:
    judged = judge_basis(LegalBasis(title="《随便什么法》"))
    assert judged.level is None and judged.instrument is None


def test_declared_level_is_used_for_an_unknown_title() -> None:
    judged = judge_basis(LegalBasis(title="《某市某条例》", level="local_regulation"))
    assert judged.level == "local_regulation" and judged.declared


def test_editions_by_year_doc_number_and_date() -> None:
    table = instruments()
    name = "《最高人民法院关于公布失信被执行人名单信息的若干规定》"
    old = table.lookup(name + "（2013年）")
    new = table.lookup(name + "（法释〔2017〕7号）")
    assert old is not None and old.doc_no == "法释〔2013〕17号"
    assert new is not None and new.doc_no == "法释〔2017〕7号"
    assert not old.in_force(date(2025, 1, 1)) and new.in_force(date(2025, 1, 1))
    # No edition named: the one in force on the day.
    on_2015 = table.lookup(name, date(2015, 1, 1))
    assert on_2015 is old
    assert table.lookup(name, date(2025, 1, 1)) is new


def test_half_width_brackets_match() -> None:
    found = instruments().lookup("财库[2016]125号")
    assert found is not None and found.level == "normative_document"


def test_notice_893_expired_end_of_2020() -> None:
    found = instruments().lookup("《国家发展改革委办公厅关于对失信主体加强信用监管的通知》")
    assert found is not None
    assert found.in_force(date(2020, 12, 31)) and not found.in_force(date(2021, 1, 1))


def test_policy_default_follows_49_and_regions_may_be_stricter() -> None:
    assert {
        "law",
        "administrative_regulation",
        "local_regulation",
        "policy_document",
    } == DEFAULT_RIGHTS_LIMITING_LEVELS
    strict = BasisPolicy(regions={"330000": frozenset({"law", "administrative_regulation"})})
    assert strict.allowed("330100") == {"law", "administrative_regulation"}  # city follows province
    assert strict.allowed("320100") == DEFAULT_RIGHTS_LIMITING_LEVELS


def test_instrument_name() -> None:
    assert instrument_name("《企业信息公示暂行条例》第十八条") == "企业信息公示暂行条例"
    assert instrument_name(" 无书名号 ") == "无书名号"
