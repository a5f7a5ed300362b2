"""Every validation rule, each with a failing example, and the file-level shape errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from _measure_lists import head, measure, write

from creditguard.errors import MeasureListError, Problem
from creditguard.measures import (
    load_measure_list,
    parse_measure_list,
    validate_files,
    validate_lists,
)
from creditguard.measures.validate import check_step_pattern, check_text


def problems(text: str) -> list[Problem]:
    return check_text(text, name="t.toml").problems


def errors(text: str) -> list[Problem]:
    return [p for p in problems(text) if p.severity == "error"]


def warnings(text: str) -> list[Problem]:
    return [p for p in problems(text) if p.severity == "warning"]


def only(found: list[Problem]) -> Problem:
    assert len(found) == 1, found
    return found[0]


def test_clean_list_has_no_problem() -> None:
    assert problems(head() + measure()) == []


# --- shape ---------------------------------------------------------------------------------------


def test_unknown_effect_names_measure_field_and_suggests() -> None:
    text = head() + measure(effect="denyy")
    p = only(errors(text))
    assert (p.file, p.measure, p.field) == ("t.toml", "M-01", "effect")
    assert "unknown effect 'denyy'" in p.message and 'did you mean "deny"' in p.message
    assert p.line == text.splitlines().index('effect = "denyy"') + 1


def test_unknown_category() -> None:
    p = only(errors(head() + measure(category="rights_limited")))
    assert p.field == "category" and "rights_limiting" in p.message


def test_unknown_list_kind_and_extends_to() -> None:
    found = errors(head() + measure(kinds='["blacklst"]', extra='extends_to = ["boss"]\n'))
    assert {p.field for p in found} == {"applies_to.list_kinds.0", "extends_to.0"}


def test_wrong_type_gives_field_path() -> None:
    p = only(errors(head() + measure(steps='"procurement.*"')))
    assert p.field == "applies_to.steps" and "got 'procurement.*'" in p.message


def test_missing_required_field() -> None:
    text = head() + measure().replace('effect = "deny"\n', "")
    p = only(errors(text))
    assert (p.field, p.message) == ("effect", "required field is missing")


def test_unknown_top_level_field_is_an_error() -> None:
    text = head() + 'regoin = "x"\n' + measure()
    p = only(errors(text))
    assert p.field == "regoin" and p.line == 6 and 'did you mean "region"' in p.message


def test_unknown_measure_field_is_a_warning() -> None:
    p = only(problems(head() + measure(extra='extend_to = ["legal_representative"]\n')))
    assert p.severity == "warning" and 'did you mean "extends_to"' in p.message


def test_toml_syntax_error_gives_line() -> None:
    p = only(problems(head() + "[[measures]]\ncode = \n"))
    assert p.line == 7 and "not valid TOML" in p.message


def test_json_syntax_error_gives_line() -> None:
    p = only(check_text('{\n"region": "320100",\n}', name="t.json", fmt="json").problems)
    assert p.line == 3


def test_bad_region_code() -> None:
    p = only(errors(head(region="3201") + measure()))
    assert p.field == "region" and p.line == 1


def test_nothing_half_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", head() + measure() + measure("M-02", effect="nope"))
    with pytest.raises(MeasureListError) as exc:
        load_measure_list(path)
    assert f"{path}:" in str(exc.value) and "measure M-02 field effect" in str(exc.value)


def test_every_problem_at_once() -> None:
    text = (
        head()
        + measure(effect="nope")
        + measure("M-02", steps='["procurment.*"]')
        + measure("M-02")
    )
    fields = sorted((p.measure or "", p.field or "") for p in errors(text))
    assert fields == [("M-01", "effect"), ("M-02", "applies_to.steps"), ("M-02", "code")]


def test_broken_measure_still_has_its_steps_checked() -> None:
    found = errors(head() + measure(effect="nope", steps='["procurment.*"]'))
    assert {p.field for p in found} == {"effect", "applies_to.steps"}


# --- one list -------------------------------------------------------------------------------------


def test_duplicate_codes() -> None:
    text = head() + measure("M-01") + measure("M-01")
    p = only(errors(text))
    assert p.field == "code" and "duplicate" in p.message
    assert (
        p.line == [i for i, line in enumerate(text.splitlines(), 1) if line == 'code = "M-01"'][1]
    )


def test_effective_window_inverted() -> None:
    text = head() + measure(extra="effective_from = 2026-05-01\neffective_to = 2026-04-01\n")
    p = only(errors(text))
    assert p.field == "effective_to" and "inverted" in p.message


def test_step_typo_of_a_known_word_is_an_error_with_suggestion() -> None:
    p = only(errors(head() + measure(steps='["procurment.*"]')))
    assert p.field == "applies_to.steps"
    assert p.message == '"procurment.*" matches no known step (did you mean "procurement.*"?)'


def test_bad_step_syntax() -> None:
    p = only(errors(head() + measure(steps='["Procurement Bid"]')))
    assert "not a step pattern" in p.message


@pytest.mark.parametrize(
    ("pattern", "verdict"),
    [
        ("*", None),
        ("procurement.*", None),
        ("licensing.approve", None),
        ("procurement.contract", None),  # an integrator's own step under a known heading
        ("housing.rent", "warning"),  # an integrator's own heading
        ("procurement.bidd", "warning"),  # near miss under a known heading
        ("procurment.*", "error"),
        ("licencing.approve", "error"),
        ("", "error"),
        ("a..b", "error"),
    ],
)
def test_step_patterns(pattern: str, verdict: str | None) -> None:
    found = check_step_pattern(pattern)
    assert (found[0] if found else None) == verdict


def test_empty_steps_or_domains() -> None:
    assert {p.field for p in errors(head() + measure(steps="[]", domains="[]"))} == {
        "applies_to.steps",
        "applies_to.domains",
    }


def test_unknown_domain_is_a_warning() -> None:
    p = only(warnings(head() + measure(domains='["court_enforcment"]')))
    assert 'did you mean "court_enforcement"' in p.message


def test_rights_limiting_on_normative_document_is_an_error() -> None:
    text = head() + measure(
        basis='{ title = "《关于在政府采购活动中查询及使用信用记录有关问题的通知》", article = "二" }'
    )
    p = only(errors(text))
    assert p.field == "legal_basis"
    assert "rests only on normative_document" in p.message
    assert "国办发〔2020〕49号" in p.message and "policy_document" in p.message


def test_declared_level_must_match_the_table() -> None:
    text = head() + measure().replace('level = "law"', 'level = "normative_document"')
    p = only(errors(text))
    assert p.field == "legal_basis.0.level"
    assert "is a law" in p.message and "instruments table" in p.message


def test_rights_limiting_on_a_local_regulation_is_fine_by_default() -> None:
    # 国办发〔2020〕49号: 地方性法规 may carry a rights-limiting measure.
    text = head() + measure(
        effect="restrict", steps='["subsidy.*"]', basis='"《上海市社会信用条例》第三十条"'
    )
    assert errors(text) == []


def test_a_region_may_be_stricter() -> None:
    from creditguard.measures.basis import BasisPolicy

    text = head("330100") + measure(
        effect="restrict", steps='["subsidy.*"]', basis='"《上海市社会信用条例》第三十条"'
    )
    policy = BasisPolicy(regions={"330000": frozenset({"law", "administrative_regulation"})})
    found = [
        p for p in check_text(text, name="t.toml", policy=policy).problems if p.severity == "error"
    ]
    p = only(found)
    assert "in region 330100 it needs one of: administrative_regulation, law" in p.message


def test_level_is_inferred_from_the_table() -> None:
    text = head() + measure().replace(', level = "law"', "")
    assert problems(text) == []


def test_a_word_in_the_title_does_not_make_a_law() -> None:
    text = head() + measure(basis='"《随便什么法》第一条"')
    found = errors(text)
    assert {p.field for p in found} == {"legal_basis.0.level", "legal_basis"}
    assert any("not in the instruments table" in p.message for p in found)


def test_management_measure_may_rest_on_a_normative_document() -> None:
    text = head() + measure(
        category="management",
        effect="strict_review",
        basis='{ title = "《关于在政府采购活动中查询及使用信用记录有关问题的通知》", article = "二" }',
    )
    assert problems(text) == []


def test_unknown_level_is_an_error_for_rights_limiting_and_a_warning_otherwise() -> None:
    basis = '{ title = "《某某管理办法》", article = "第三条" }'
    found = errors(head() + measure(basis=basis))
    assert {p.field for p in found} == {"legal_basis.0.level", "legal_basis"}
    soft = problems(head() + measure(category="management", effect="notify", basis=basis))
    assert [(p.field, p.severity) for p in soft] == [("legal_basis.0.level", "warning")]


@pytest.mark.parametrize("effect", ["restrict", "deny"])
def test_restrict_and_deny_need_rights_limiting(effect: str) -> None:
    p = only(errors(head() + measure(category="management", effect=effect)))
    assert p.field == "category" and "must be rights_limiting" in p.message


@pytest.mark.parametrize(
    ("title", "effective", "needle"),
    [
        (
            "《最高人民法院关于公布失信被执行人名单信息的若干规定》（2013年）",
            "2025-01-01",
            "法释〔2013〕17号",
        ),
        (
            "《国家发展改革委办公厅关于对失信主体加强信用监管的通知》",
            "2026-01-01",
            "发改办财金〔2018〕893号",
        ),
        ("《信用修复管理办法》", "2026-01-01", "in force only from 2026-04-01"),
    ],
)
def test_instrument_not_in_force_on_the_list_date(title: str, effective: str, needle: str) -> None:
    text = head(published=effective, effective=effective) + measure(
        category="management",
        effect="strict_review",
        basis=f'{{ title = "{title}", article = "第六条" }}',
    )
    p = only(errors(text))
    assert p.field == "legal_basis.0.title" and needle in p.message and "not in force" in p.message


def test_basis_without_article_is_a_warning() -> None:
    text = head() + measure(
        basis='{ title = "《中华人民共和国政府采购法》", level = "law" }',
        domains='["procurement"]',
    )
    p = only(problems(text))
    assert p.severity == "warning" and "cites no article" in p.message


def test_withdrawal_needs_a_reason() -> None:
    text = head(extends="000000") + '\n[[withdraws]]\ncode = "ST-01"\nreason = ""\n' + measure()
    p = only(errors(text))
    assert p.field == "withdraws.0.reason" and p.message == "a withdrawal needs a stated reason"


def test_withdrawal_without_reason_field() -> None:
    text = head(extends="000000") + '\n[[withdraws]]\ncode = "ST-01"\n' + measure()
    assert only(errors(text)).field == "withdraws.0.reason"


def test_withdrawing_own_measure() -> None:
    text = head(extends="000000") + '\n[[withdraws]]\ncode = "M-01"\nreason = "x"\n' + measure()
    assert "defines itself" in only(errors(text)).message


def test_list_extending_itself() -> None:
    assert "cycle" in only(errors(head(extends="320100") + measure())).message


def test_missing_dates_are_warnings() -> None:
    text = 'region = "320100"\nversion = "1"\n' + measure()
    assert {p.field for p in warnings(text)} == {"published_on", "effective_from"}


# --- lists together -------------------------------------------------------------------------------


def national() -> str:
    return (
        head("000000", "n1", published="2025-01-01", effective="2025-01-01")
        + measure(
            "ST-01",
            domains='["market_regulation"]',
            steps='["procurement.*"]',
            effect="restrict",
            basis=ART18,
        )
        + measure("ST-02", category="management", steps='["licensing.*"]', effect="strict_review")
    )


#: 企业信息公示暂行条例 Art 18: restricts enterprises on the market regulator's lists
#: in procurement, tendering, land transfer and honours (what national ST-01 rests on).
ART18 = '{ title = "《企业信息公示暂行条例》", article = "第十八条", level = "administrative_regulation" }'
CARRY = "basis does not carry the measure"


def widening(found: list[Problem]) -> list[Problem]:
    """The errors besides rule 11f (a widened measure may also outgrow its basis)."""
    return [x for x in found if x.severity == "error" and CARRY not in x.message]


def layered(tmp: Path, child: str) -> list[Problem]:
    paths = [write(tmp, "national.toml", national()), write(tmp, "child.toml", child)]
    return validate_files(paths)


def test_parent_missing(tmp_path: Path) -> None:
    found = validate_files([write(tmp_path, "c.toml", head(extends="320000") + measure())])
    p = only([x for x in found if x.severity == "error"])
    assert p.field == "extends" and "320000 is not installed" in p.message and p.line == 6


def test_parent_cycle(tmp_path: Path) -> None:
    a = write(tmp_path, "a.toml", head("320000", extends="320100") + measure("A"))
    b = write(tmp_path, "b.toml", head("320100", extends="320000") + measure("B"))
    found = [p for p in validate_files([a, b]) if p.severity == "error"]
    assert len(found) == 2 and all("cycle" in p.message for p in found)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kinds": '["blacklist", "focus"]'}, "applies_to.list_kinds"),
        ({"domains": '["*"]'}, "applies_to.domains"),
        ({"domains": '["market_regulation", "customs"]'}, "applies_to.domains"),
        ({"steps": '["procurement.*", "tendering.*"]'}, "applies_to.steps"),
        ({"steps": '["*"]'}, "applies_to.steps"),
        ({"effect": "deny"}, "effect"),
        ({"extra": 'extends_to = ["legal_representative"]\n'}, "extends_to"),
    ],
)
def test_widening_rights_limiting_is_an_error(
    tmp_path: Path, change: dict[str, str], field: str
) -> None:
    args = {"domains": '["market_regulation"]', "effect": "restrict", "basis": ART18, **change}
    child = head(extends="000000") + measure("ST-01", **args)
    p = only(widening(layered(tmp_path, child)))
    assert (p.file, p.measure, p.field) == (str(tmp_path / "child.toml"), "ST-01", field)
    assert "widens rights_limiting measure ST-01 of list 000000 n1" in p.message


def test_narrowing_rights_limiting_is_fine(tmp_path: Path) -> None:
    child = head(extends="000000") + measure(
        "ST-01",
        domains='["market_regulation"]',
        steps='["procurement.bid"]',
        effect="restrict",
        basis=ART18,
    )
    assert layered(tmp_path, child) == []


def test_recategorising_rights_limiting_is_an_error(tmp_path: Path) -> None:
    child = head(extends="000000") + measure(
        "ST-01",
        category="management",
        domains='["market_regulation"]',
        effect="strict_review",
        basis=ART18,
    )
    assert only([x for x in layered(tmp_path, child) if x.severity == "error"]).field == "category"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"domains": '["*"]'}, "applies_to.domains"),
        ({"effect": "deny"}, "effect"),
        ({"steps": '["procurement.*", "tendering.*"]'}, "applies_to.steps"),
    ],
)
def test_widening_under_another_code_is_an_error(
    tmp_path: Path, change: dict[str, str], field: str
) -> None:
    # Same basis (企业信息公示暂行条例 第十八条, as ST-01), same records and steps, a new code.
    args = {"domains": '["market_regulation"]', "effect": "restrict", "basis": ART18, **change}
    child = head(extends="000000") + measure("NJ-99", **args)
    p = only(widening(layered(tmp_path, child)))
    assert (p.measure, p.field) == ("NJ-99", field)
    assert "widens rights_limiting measure ST-01" in p.message and "another code" in p.message


def test_a_new_code_on_another_basis_or_target_is_not_widening(tmp_path: Path) -> None:
    other_basis = head(extends="000000") + measure("NJ-98")
    other_target = head(extends="000000") + measure(
        "NJ-97",
        domains='["market_regulation"]',
        steps='["honors.*"]',
        effect="restrict",
        basis=ART18,
    )
    assert [x for x in layered(tmp_path, other_basis) if x.severity == "error"] == []
    assert [x for x in layered(tmp_path, other_target) if x.severity == "error"] == []


def test_widening_management_measure_is_allowed(tmp_path: Path) -> None:
    child = head(extends="000000") + measure(
        "ST-02", category="management", steps='["*"]', effect="strict_review"
    )
    assert layered(tmp_path, child) == []


def test_withdrawing_an_unknown_inherited_measure(tmp_path: Path) -> None:
    child = (
        head(extends="000000")
        + '\n[[withdraws]]\ncode = "ST-09"\nreason = "本市不适用"\n'
        + measure()
    )
    p = only([x for x in layered(tmp_path, child) if x.severity == "error"])
    assert p.measure == "ST-09" and "no parent list" in p.message


def test_withdrawal_with_reason_is_fine(tmp_path: Path) -> None:
    child = (
        head(extends="000000")
        + '\n[[withdraws]]\ncode = "ST-02"\nreason = "本市已并入一窗受理"\n'
        + measure()
    )
    assert layered(tmp_path, child) == []


def test_parent_not_in_force_when_child_starts(tmp_path: Path) -> None:
    child = head(extends="000000", published="2024-01-01", effective="2024-01-01") + measure()
    p = only([x for x in layered(tmp_path, child) if x.severity == "error"])
    assert p.field == "extends" and "2024-01-01" in p.message


def test_extends_outside_the_hierarchy_is_a_warning(tmp_path: Path) -> None:
    a = write(tmp_path, "sh.toml", head("310000", extends="000000") + measure("SH"))
    b = write(tmp_path, "nj.toml", head("320100", extends="310000") + measure("NJ"))
    found = validate_files([write(tmp_path, "n.toml", national()), a, b])
    p = only(found)
    assert p.severity == "warning" and "not above 320100" in p.message


def test_same_version_different_content(tmp_path: Path) -> None:
    a = write(tmp_path, "a.toml", head() + measure("A"))
    b = write(tmp_path, "b.toml", head() + measure("B"))
    assert any("exists twice" in p.message for p in validate_files([a, b]))


def test_two_versions_same_day(tmp_path: Path) -> None:
    a = write(tmp_path, "a.toml", head(version="1") + measure("A"))
    b = write(tmp_path, "b.toml", head(version="2") + measure("A"))
    assert any("ambiguous" in p.message for p in validate_files([a, b]))


def test_installed_lists_serve_as_parents(tmp_path: Path) -> None:
    parent = parse_measure_list(national())
    child = write(tmp_path, "c.toml", head(extends="000000") + measure())
    assert validate_files([child], context=[parent]) == []


def test_validate_lists_for_loaded_lists() -> None:
    child = parse_measure_list(head(extends="000000") + measure())
    assert "not installed" in only(validate_lists([child])).message
