"""Tests for creditguard.codes: unified social credit codes and resident ID numbers.

Resident ID numbers here are made up (check character computed); none is a
real person's number.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from creditguard.clock import today_cst
from creditguard.codes import (
    CONVERTED_WARNING,
    USCC_CHARSET,
    SubjectCode,
    is_person_like,
    is_valid,
    normalize,
    org_code_check_char,
    parse_code,
    resident_id_check_char,
    uscc_check_char,
)
from creditguard.errors import InvalidCodeError

TODAY = date(2025, 6, 1)
REAL_USCCS = [
    "91110000710925462X",
    "9144030071526726XG",
    "914403001922038216",
    "91330100799655058B",
]
DIGITS = "0123456789"


# --- reference implementations straight from FACTS §2 --------------------------


def ref_uscc_check(first17: str) -> str:
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, weights, strict=True))
    value = 31 - total % 31
    return USCC_CHARSET[0 if value == 31 else value]


def ref_id_check(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def make_uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def make_org_uscc(authority: str, org_type: str, division: str, body: str) -> str:
    """A USCC whose inner organisation code is also valid."""
    return make_uscc(authority + org_type + division + body + org_code_check_char(body))


def make_id(division: str, birth: date, seq: int) -> str:
    first17 = f"{division}{birth:%Y%m%d}{seq:03d}"
    return first17 + resident_id_check_char(first17)


def make_id_only(division: str, birth: date, seq: int = 1) -> str:
    """A made-up ID number that is not also a valid USCC (1 in 31 would be)."""
    while True:
        code = make_id(division, birth, seq)
        if uscc_check_char(code[:17]) != code[17]:
            return code
        seq += 1


def make_id15(division: str, birth: date, seq: int) -> str:
    return f"{division}{birth:%y%m%d}{seq:03d}"


PERSON = make_id("320102", date(1990, 3, 7), 123)  # made up


def invalid(text: str, **kwargs: object) -> InvalidCodeError:
    with pytest.raises(InvalidCodeError) as info:
        parse_code(text, **kwargs)  # type: ignore[arg-type]
    return info.value


# --- strategies -------------------------------------------------------------------

uscc_chars = st.sampled_from(USCC_CHARSET)
uscc_bodies = st.lists(uscc_chars, min_size=17, max_size=17).map("".join)
digit_led_bodies = st.builds(
    lambda head, tail: head + tail,
    st.text(DIGITS, min_size=8, max_size=8),
    st.lists(uscc_chars, min_size=9, max_size=9).map("".join),
)
# A resident number's address code starts with a province code: first digit 1-8 (FACTS §2.2).
divisions = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("12345678"),
    st.text(DIGITS, min_size=5, max_size=5),
)
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(0, 999)
persons = st.builds(make_id, divisions, births, sequences)
usccs = uscc_bodies.map(make_uscc)


# --- check-character helpers ------------------------------------------------------


def test_weights_match_facts() -> None:
    for code in REAL_USCCS:
        assert uscc_check_char(code[:17]) == ref_uscc_check(code[:17]) == code[17]
    first17 = "11010519491231002"  # the GB 11643 sample number
    assert resident_id_check_char(first17) == ref_id_check(first17) == "X"


def test_org_code_check_char_on_real_codes() -> None:
    assert org_code_check_char("71092546") == "2"
    assert org_code_check_char("71526726") == "X"
    assert org_code_check_char("19220382") == "1"
    assert org_code_check_char("79965505") == "8"


@pytest.mark.parametrize(
    ("func", "arg"),
    [
        (uscc_check_char, "9111000071092546"),
        (uscc_check_char, "9111000071092546I"),
        (resident_id_check_char, "1101051949123100A"),
        (resident_id_check_char, "1101"),
        (org_code_check_char, "7109254"),
        (org_code_check_char, "7109254-"),
    ],
)
def test_helpers_reject_bad_input(func: object, arg: str) -> None:
    with pytest.raises(ValueError):
        func(arg)  # type: ignore[operator]


@given(uscc_bodies)
def test_uscc_check_char_matches_reference(body: str) -> None:
    assert uscc_check_char(body) == ref_uscc_check(body)


@given(st.text(DIGITS, min_size=17, max_size=17))
def test_resident_check_char_matches_reference(body: str) -> None:
    assert resident_id_check_char(body) == ref_id_check(body)


# --- unified social credit codes --------------------------------------------------


@pytest.mark.parametrize("code", REAL_USCCS)
def test_real_codes_pass(code: str) -> None:
    sc = parse_code(code)
    assert sc == SubjectCode(code, "organization")
    assert sc.authority == "9" and sc.org_type == "1"
    assert sc.authority_name == "工商/市场监管 market regulation"
    assert sc.type_name == "企业 enterprise"
    assert sc.division == code[2:8]
    assert sc.organization_code == f"{code[8:16]}-{code[16]}"
    assert sc.masked == str(sc) == code
    assert code in repr(sc)
    assert sc.birth_date is None and sc.sex is None
    assert is_valid(code)


def test_parts() -> None:
    sc = parse_code("9144030071526726XG")
    assert sc.division == "440300"
    assert sc.organization_code == "71526726-X"


@pytest.mark.parametrize(
    ("authority", "org_type", "label"),
    [
        ("A", "1", "military reform"),
        ("N", "1", "agriculture"),
        ("N", "2", "agriculture"),
        ("N", "3", "agriculture"),
        ("Y", "1", "other"),
        ("Y", "9", "other"),
    ],
)
def test_letter_led_codes_pass(authority: str, org_type: str, label: str) -> None:
    code = make_org_uscc(authority, org_type, "330106", "MA2CDE7K")
    sc = parse_code(code, strict=True)
    assert sc.kind == "organization" and sc.warnings == ()
    assert sc.authority == authority
    assert label in (sc.authority_name or "")
    # python-stdnum rejects every letter-led code (FACTS §2.1); we must not.
    assert not stdnum_uscc.is_valid(code)


@given(digit_led_bodies)
def test_stdnum_second_opinion_on_valid_codes(body: str) -> None:
    code = make_uscc(body)
    assert stdnum_uscc.is_valid(code)
    assert is_valid(code, today=TODAY)


@given(digit_led_bodies, uscc_chars)
def test_stdnum_second_opinion_on_random_codes(body: str, last: str) -> None:
    code = body + last
    theirs = stdnum_uscc.is_valid(code)
    try:
        sc = parse_code(code, today=TODAY)
    except InvalidCodeError:
        assert not theirs
    else:
        # We accept what stdnum accepts; anything else we accept is a resident ID.
        assert theirs or sc.kind == "person"
        if sc.kind == "organization":
            assert theirs


@given(uscc_bodies)
def test_any_body_with_computed_check_char_validates(body: str) -> None:
    code = make_uscc(body)
    sc = parse_code(code, today=TODAY)
    assert sc.code == code
    if sc.kind == "person":  # an all-digit code that is also a valid ID number
        assert code.isdigit()


@given(usccs, st.integers(0, 17), st.sampled_from(USCC_CHARSET + "IOSVZ#a"))
def test_single_substitution_in_uscc_is_detected(code: str, i: int, new: str) -> None:
    assume(parse_code(code, today=TODAY).kind == "organization")
    mutated = code[:i] + new + code[i + 1 :]
    assume(normalize(mutated) != code)
    try:
        sc = parse_code(mutated, today=TODAY)
    except InvalidCodeError:
        return
    assert sc.kind == "person"  # can only have become a (different) valid ID number


@given(persons, st.integers(0, 17), st.sampled_from(DIGITS + "XAB#"))
def test_single_substitution_in_resident_id_is_detected(code: str, i: int, new: str) -> None:
    mutated = code[:i] + new + code[i + 1 :]
    assume(mutated != code)
    try:
        sc = parse_code(mutated, today=TODAY)
    except InvalidCodeError:
        return
    assert sc.kind == "organization"  # can only have become a valid USCC


def test_spreadsheet_mangled_code_is_rejected() -> None:
    err = invalid("916201055811843000")
    assert err.position == 18
    assert err.reason.startswith("check character should be 'F', found '0'")
    assert "spreadsheet" in err.reason
    assert err.shown == "916201055811843000"
    assert not is_valid("9.16201055811843E+17")


def test_checksum_error_names_expected_char() -> None:
    err = invalid("91110000710925462Y")
    assert err.reason == "check character should be 'X', found 'Y'"
    assert err.position == 18
    assert "91110000710925462Y" in str(err)


@pytest.mark.parametrize(
    ("text", "char", "position"),
    [
        ("I1110000710925462X", "I", 1),
        ("9111000O710925462X", "O", 8),
        ("91110000710925S62X", "S", 15),
        ("91110000710925462V", "V", 18),
        ("9111 0000 7109 2546 2Z", "Z", 18),
    ],
)
def test_never_used_letters(text: str, char: str, position: int) -> None:
    err = invalid(text)
    assert err.position == position
    assert err.reason == (
        f"character '{char}' is not allowed in a unified social credit code "
        "(I, O, S, V, Z are never used)"
    )


def test_other_bad_characters() -> None:
    err = invalid("91110000710925#62X")
    assert err.position == 15
    assert "character '#'" in err.reason
    err = invalid("91110000710925４63Ｘ")  # full-width digits are read as digits...
    assert err.position == 18  # ...and then the checksum fails
    assert err.reason == "check character should be '1', found 'X'"


@pytest.mark.parametrize(
    ("text", "n"), [("", 0), ("9111000071092546", 16), ("9" * 17, 17), ("9" * 19, 19)]
)
def test_wrong_length(text: str, n: int) -> None:
    err = invalid(text)
    assert err.position is None
    assert err.reason.startswith(
        f"expected 18 characters (unified social credit code or resident ID number), got {n}"
    )


def test_wrong_length_digits_are_masked() -> None:
    err = invalid(PERSON[:17])
    assert PERSON[:17] not in str(err)
    assert err.shown == PERSON[:6] + "*******" + PERSON[13:17]


def test_organisation_code_alone_gets_a_hint() -> None:
    assert "organisation code alone" in invalid("71092546-2").reason


def test_inner_org_code_failure_is_a_warning_and_strict_error() -> None:
    body = "71092546"
    wrong = "3" if org_code_check_char(body) != "3" else "4"
    code = make_uscc("91110000" + body + wrong)
    sc = parse_code(code)
    assert len(sc.warnings) == 1 and "organisation code check character" in sc.warnings[0]
    err = invalid(code, strict=True)
    assert err.position == 17
    assert "should be '2'" in err.reason


def test_unknown_authority_type_pair() -> None:
    code = make_org_uscc("9", "7", "110000", "71092546")
    sc = parse_code(code)
    assert sc.warnings == (
        "organisation type '7' is not a known type for registration authority '9'",
    )
    assert sc.type_name is None
    assert invalid(code, strict=True).position == 2

    code = make_org_uscc("0", "1", "110000", "71092546")
    assert parse_code(code).warnings == ("unknown registration authority '0'",)
    assert invalid(code, strict=True).position == 1


def test_letters_in_division_warn() -> None:
    code = make_org_uscc("9", "1", "11A000", "71092546")
    assert "administrative division" in parse_code(code).warnings[0]
    assert invalid(code, strict=True).position == 5


# --- resident ID numbers ----------------------------------------------------------


def test_resident_id() -> None:
    sc = parse_code(PERSON, today=TODAY)
    assert sc.kind == "person" and sc.is_person
    assert sc.code == PERSON
    assert sc.division == "320102"
    assert sc.birth_date == date(1990, 3, 7)
    assert sc.sex == "male"
    assert sc.authority is None and sc.organization_code is None and sc.type_name is None
    assert not sc.converted_from_15
    female = parse_code(make_id("320102", date(1990, 3, 7), 124), today=TODAY)
    assert female.sex == "female"


def test_lower_case_x_accepted() -> None:
    seq = next(s for s in range(1000) if make_id("110105", date(1980, 5, 6), s).endswith("X"))
    code = make_id("110105", date(1980, 5, 6), seq)
    assert parse_code(code.lower(), today=TODAY).code == code


def test_future_birth_date_rejected() -> None:
    code = make_id_only("320102", date(2025, 6, 2))
    err = invalid(code, today=TODAY)
    assert "in the future" in err.reason
    assert code not in str(err)
    assert parse_code(code, today=TODAY + timedelta(days=1)).birth_date == date(2025, 6, 2)


def test_2099_birth_date_rejected() -> None:
    code = make_id_only("320102", date(2099, 1, 1))
    assert not is_valid(code)
    assert "in the future" in invalid(code).reason


def test_impossible_birth_date_rejected() -> None:
    for seq in range(1000):
        first17 = f"32010219900230{seq:03d}"
        code = first17 + resident_id_check_char(first17)
        if uscc_check_char(first17) != code[17]:
            break
    err = invalid(code, today=TODAY)
    assert err.reason == "birth date (characters 7-14) is not a real date"
    assert err.position is None


def test_future_date_that_is_also_a_valid_uscc_reads_as_uscc() -> None:
    seq = 1
    while True:
        code = make_id("320102", date(2099, 1, 1), seq)
        if uscc_check_char(code[:17]) == code[17]:
            break
        seq += 1
    assert parse_code(code, today=TODAY).kind == "organization"


def test_resident_checksum_error_is_masked() -> None:
    wrong = "0" if PERSON[17] != "0" else "1"
    code = PERSON[:17] + wrong
    err = invalid(code, today=TODAY)
    assert err.position == 18
    assert err.reason == f"check character should be '{PERSON[17]}', found '{wrong}'"
    assert err.shown == code[:6] + "********" + code[14:]
    assert code not in str(err) and code[6:14] not in str(err)


def test_person_like_with_bad_last_char() -> None:
    err = invalid(PERSON[:17] + "I", today=TODAY)
    assert err.position == 18
    assert PERSON[:17] not in str(err)


def test_digits_that_fit_uscc_but_not_id_read_as_uscc() -> None:
    # Person-shaped digits whose ID check fails but whose USCC check passes.
    for seq in range(1000):
        first17 = f"32010219900307{seq:03d}"
        uscc_char = uscc_check_char(first17)
        if uscc_char.isdigit() and uscc_char != resident_id_check_char(first17):
            break
    else:  # pragma: no cover
        pytest.fail("no example found")
    sc = parse_code(first17 + uscc_char, today=TODAY)
    assert sc.kind == "organization"


def test_digits_that_fit_both_read_as_person() -> None:
    for seq in range(1000):
        first17 = f"32010219900307{seq:03d}"
        if uscc_check_char(first17) == resident_id_check_char(first17):
            break
    else:  # pragma: no cover
        pytest.skip("no ambiguous example")
    sc = parse_code(first17 + resident_id_check_char(first17), today=TODAY)
    assert sc.kind == "person"


def test_15_digit_conversion() -> None:
    old = make_id15("320102", date(1990, 3, 7), 123)
    sc = parse_code(old, today=TODAY)
    assert sc.code == PERSON
    assert sc.warnings == (CONVERTED_WARNING,)
    assert sc.converted_from_15
    assert parse_code(old, strict=True, today=TODAY).code == PERSON


@given(divisions, st.dates(date(1900, 1, 1), date(1999, 12, 31)), sequences)
def test_15_digit_conversion_property(division: str, birth: date, seq: int) -> None:
    sc = parse_code(make_id15(division, birth, seq), today=TODAY)
    assert sc.code == make_id(division, birth, seq)
    assert sc.birth_date == birth


def test_15_digit_errors() -> None:
    err = invalid("32010290030712A")
    assert err.position == 15
    assert "320102" in err.shown and "900307" not in err.shown
    assert "not a real date" in invalid("320102900230123").reason


@given(persons)
def test_generated_persons_validate(code: str) -> None:
    sc = parse_code(code, today=TODAY)
    assert sc.kind == "person" and sc.code == code


# --- masking ----------------------------------------------------------------------


@given(persons)
def test_person_str_and_repr_are_masked(code: str) -> None:
    sc = parse_code(code, today=TODAY)
    masked = code[:6] + "********" + code[14:]
    assert sc.masked == masked
    for shown in (str(sc), repr(sc), f"{sc}", f"{sc!r}", str([sc])):
        assert masked in shown
        assert code not in shown


def test_masked_example() -> None:
    assert str(parse_code(PERSON, today=TODAY)) == "320102********" + PERSON[14:]


# --- normalisation ----------------------------------------------------------------


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


def test_normalize_examples() -> None:
    assert normalize(" ９１１１ ０ ０００７１０９２５４６２ｘ\u3000") == "91110000710925462X"
    assert normalize("9111-0000–7109—2546‐2x") == "91110000710925462X"
    assert normalize("91330100799655058b") == "91330100799655058B"


def _to_full_width(ch: str) -> str:
    return chr(ord(ch) + 0xFEE0)


@given(
    st.sampled_from(REAL_USCCS) | persons,
    st.lists(st.tuples(st.integers(0, 18), st.sampled_from([" ", "-", "\u3000", "–", "－", "\t"]))),
    st.lists(st.booleans(), min_size=18, max_size=18),
    st.lists(st.booleans(), min_size=18, max_size=18),
)
def test_variants_parse_to_same_code(
    code: str, inserts: list[tuple[int, str]], lower: list[bool], wide: list[bool]
) -> None:
    chars = [
        _to_full_width(c.lower() if lo else c) if w else (c.lower() if lo else c)
        for c, lo, w in zip(code, lower, wide, strict=True)
    ]
    for pos, sep in sorted(inserts, reverse=True):
        chars.insert(pos, sep)
    variant = "".join(chars)
    assert parse_code(variant, today=TODAY).code == code


@settings(max_examples=50)
@given(st.text(max_size=30))
def test_parse_never_crashes(text: str) -> None:
    try:
        sc = parse_code(text, today=TODAY)
    except InvalidCodeError as err:
        assert err.reason
        assert err.position is None or 1 <= err.position <= len(normalize(text))
    else:
        assert len(sc.code) == 18


def test_cached_result_is_fresh_per_today() -> None:
    code = make_id_only("320102", date(2025, 6, 2))
    assert not is_valid(code, today=TODAY)
    assert is_valid(code, today=TODAY + timedelta(days=1))
    assert not is_valid(code, today=TODAY)


def test_default_today_is_used() -> None:
    # The default bound is today in China Standard Time, the engine's clock.
    today = today_cst()
    tomorrow = today + timedelta(days=1)
    assert not is_valid(make_id_only("320102", tomorrow))
    assert is_valid(make_id("320102", today - timedelta(days=1), 1))


# --- item 11: the first digit of a resident number is a province's (1-8) ---------------


def test_nine_led_valid_uscc_with_birth_like_digits_is_an_organisation() -> None:
    # The example: a valid USCC of market regulation (authority 9, type 1)
    # whose characters 7-18 happen to form a valid ID number with a real birth date.
    code = "911101198011200109"
    assert resident_id_check_char(code[:17]) == code[17]
    assert uscc_check_char(code[:17]) == code[17]
    sc = parse_code(code, today=TODAY)
    assert sc.kind == "organization"
    assert sc.masked == str(sc) == code  # public: shown whole
    assert sc.authority == "9" and sc.type_name == "企业 enterprise"


@given(st.sampled_from("09"), st.text(DIGITS, min_size=5, max_size=5), births, sequences)
def test_zero_or_nine_led_digits_never_read_as_a_person(
    head: str, tail: str, birth: date, seq: int
) -> None:
    code = make_id(head + tail, birth, seq)
    try:
        sc = parse_code(code, today=TODAY)
    except InvalidCodeError as err:
        assert "resident" not in err.reason and "birth" not in err.reason
    else:
        assert sc.kind == "organization"


def test_fifteen_digits_need_a_province_code() -> None:
    err = invalid("910102900307123", today=TODAY)
    assert err.position == 1 and "province" in err.reason
    assert "900307" not in str(err)


# --- item 10: no full number in an error text -------------------------------------------


def _month13(division: str = "320102") -> str:
    # Birth month 13: the digits are not a real person's number but could be a mistyped one.
    for seq in range(1000):
        first17 = f"{division}19901307{seq:03d}"
        code = first17 + resident_id_check_char(first17)
        if uscc_check_char(first17) != code[17]:
            return code
    raise AssertionError("no example")  # pragma: no cover


@pytest.mark.parametrize(
    "text",
    [
        _month13(),
        make_id_only("320102", date(2990, 3, 7)),  # year out of range: read as a USCC first
        "ID:" + PERSON,
        "身份证号" + PERSON,
        PERSON + "号",
        PERSON + "0",
        PERSON[:-1],
        "abc " + PERSON + " def",
    ],
)
def test_errors_never_carry_a_full_number(text: str) -> None:
    err = invalid(text, today=TODAY)
    digits = normalize(text)
    run = max("".join(ch if ch.isdigit() else " " for ch in digits).split(), key=len)
    for shown in (str(err), repr(err), err.shown, err.reason, str(err.args)):
        assert run not in shown
        assert run[6:14] not in shown  # the birth-date part never shows


def test_implausible_birth_date_error_is_masked_but_located() -> None:
    code = _month13()
    err = invalid(code, today=TODAY)
    assert err.shown == code[:6] + "********" + code[14:]


def test_is_person_like() -> None:
    assert is_person_like(PERSON)
    assert is_person_like(_month13())  # invalid, but could be a mistyped number
    assert is_person_like(make_id15("320102", date(1990, 3, 7), 123))
    assert not is_person_like("911101198011200109")  # a valid organisation code
    assert not is_person_like("91110000710925462X")
    assert not is_person_like("910102199003071234")  # 9-led: never a person
    assert not is_person_like("32010219900307")  # too short
