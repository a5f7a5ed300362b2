"""Legal-basis level inference from instrument titles."""

from __future__ import annotations

import pytest

from creditguard.measures.basis import (
    JUDICIAL_INTERPRETATION,
    basis_kind,
    infer_level,
    instrument_name,
)
from creditguard.models import LegalBasis


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("《中华人民共和国政府采购法》", "law"),
        ("《中华人民共和国政府采购法》第二十二条、第七十七条", "law"),
        ("《中华人民共和国民法典》", "law"),
        ("《企业信息公示暂行条例》", "administrative_regulation"),
        ("《中华人民共和国政府采购法实施条例》", "administrative_regulation"),
        ("《城市供水条例》", "administrative_regulation"),
        ("《上海市社会信用条例》", "local_regulation"),
        ("《浙江省公共信用信息管理条例》", "local_regulation"),
        ("《南京市社会信用条例》", "local_regulation"),
        ("《深圳经济特区社会信用条例》", "local_regulation"),
        (
            "《最高人民法院关于公布失信被执行人名单信息的若干规定》（2013年）",
            JUDICIAL_INTERPRETATION,
        ),
        ("《信用修复管理办法》", None),  # 办法: departmental or local rule, cannot tell
        ("《国家发展改革委办公厅关于对失信主体加强信用监管的通知》", None),
        ("《中国共产党纪律处分条例》", None),
        ("某某规定", None),
    ],
)
def test_infer_level(title: str, level: str | None) -> None:
    assert infer_level(title) == level


def test_explicit_level_wins() -> None:
    assert (
        basis_kind(LegalBasis(title="《信用修复管理办法》", level="departmental_rule"))
        == "departmental_rule"
    )
    assert basis_kind(LegalBasis(title="《上海市社会信用条例》")) == "local_regulation"


def test_instrument_name() -> None:
    assert instrument_name("《企业信息公示暂行条例》第十八条") == "企业信息公示暂行条例"
    assert instrument_name(" 无书名号 ") == "无书名号"
