"""Tests for ``creditguard code`` (made-up resident ID numbers only)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from creditguard.cli import main
from creditguard.cli.code_cmd import code as code_cmd
from creditguard.codes import org_code_check_char, resident_id_check_char, uscc_check_char

USCC = "91110000710925462X"
PERSON_17 = "32010219900307123"
PERSON = PERSON_17 + resident_id_check_char(PERSON_17)  # made up
MASKED = "320102********" + PERSON[14:]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["code", *args])


def test_valid_uscc_human() -> None:
    result = run(USCC)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "valid unified social credit code"
    assert USCC in result.stdout
    assert "9 (工商/市场监管 market regulation)" in result.stdout
    assert "1 (企业 enterprise)" in result.stdout
    assert "110000" in result.stdout
    assert "71092546-2" in result.stdout
    assert result.stderr == ""


def test_command_object_directly() -> None:
    result = CliRunner().invoke(code_cmd, [" 9144 0300 7152 6726 xg "])
    assert result.exit_code == 0
    assert "9144030071526726XG" in result.stdout


def test_valid_person_is_masked() -> None:
    result = run(PERSON)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "valid resident ID number"
    assert MASKED in result.stdout
    assert PERSON not in result.output
    # The masked form and the birth date together would be the whole number.
    assert "1990-03-07" not in result.output and "19900307" not in result.output
    assert "birth date:        (hidden; --unmask)" in result.stdout
    assert "male" in result.stdout


def test_15_digit_person() -> None:
    result = run("320102900307123")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "valid resident ID number (converted from 15 digits)"
    assert MASKED in result.stdout
    assert PERSON not in result.output


def test_invalid_exit_1_with_reason_and_position() -> None:
    result = run("916201055811843000")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "invalid: check character should be 'F', found '0'" in result.stderr
    assert "(position 18)" in result.stderr


def test_invalid_person_is_masked() -> None:
    wrong = PERSON[:17] + ("0" if PERSON[17] != "0" else "1")
    result = run(wrong)
    assert result.exit_code == 1
    assert wrong not in result.output
    assert PERSON_17 not in result.output
    assert "invalid:" in result.stderr


def test_usage_error_exit_2() -> None:
    assert run().exit_code == 2
    assert run(USCC, "--bogus").exit_code == 2


def test_json_valid_organisation() -> None:
    result = run(USCC, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data == {
        "schema_version": 1,
        "valid": True,
        "code": USCC,
        "unmasked": False,
        "kind": "organization",
        "parts": {
            "authority": "9",
            "authority_name": "工商/市场监管 market regulation",
            "org_type": "1",
            "type_name": "企业 enterprise",
            "division": "110000",
            "organization_code": "71092546-2",
        },
        "warnings": [],
        "error": None,
    }


def test_json_valid_person() -> None:
    result = run(PERSON.lower(), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert data["code"] == MASKED
    assert data["kind"] == "person"
    assert data["parts"] == {"division": "320102", "birth_date": None, "sex": "male"}
    assert data["error"] is None and data["unmasked"] is False
    assert PERSON not in result.output and "1990-03-07" not in result.output


def _config(tmp_path: Path, journal: bool = True) -> Path:
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text(
        f'[guard]\ndata_dir = "var"\n[journal]\nenabled = {"true" if journal else "false"}\n',
        encoding="utf-8",
    )
    return cfg


def test_unmask_needs_a_journal(tmp_path: Path) -> None:
    # Without a configuration there is nowhere to record the disclosure: nothing shown.
    result = CliRunner().invoke(
        main, ["code", PERSON, "--unmask"], env={"CREDITGUARD_CONFIG": None}
    )
    assert result.exit_code == 2
    assert PERSON not in result.output and "1990-03-07" not in result.output
    assert "journal" in result.stderr
    off = run(PERSON, "--unmask", "--config", str(_config(tmp_path, journal=False)))
    assert off.exit_code == 2 and PERSON not in off.output


@pytest.mark.shows_personal_data  # the point of --unmask
def test_unmask_shows_the_number_and_records_it(tmp_path: Path) -> None:
    from creditguard.unmask_log import read_unmaskings

    cfg = _config(tmp_path)
    result = run(PERSON, "--unmask", "--json", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["code"] == PERSON and data["unmasked"] is True
    assert data["parts"]["birth_date"] == "1990-03-07"
    human = run(PERSON, "--unmask", "--config", str(cfg))
    assert PERSON in human.stdout and "1990-03-07" in human.stdout
    rows = read_unmaskings(tmp_path / "var" / "journal.db")
    assert [r["command"] for r in rows] == ["code --unmask", "code --unmask"]
    assert rows[0]["subjects"] == [MASKED] and rows[0]["actor"]
    assert PERSON not in (tmp_path / "var" / "journal.db").read_bytes().decode("latin-1")


def test_unmask_of_an_organisation_records_nothing(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    result = run(USCC, "--unmask", "--config", str(cfg))
    assert result.exit_code == 0 and USCC in result.stdout
    assert not (tmp_path / "var" / "journal.db").exists()


def test_json_invalid() -> None:
    result = run("9111000071092546IX", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert data["kind"] is None
    assert data["parts"] == {}
    assert data["warnings"] == []
    assert data["error"]["position"] == 17
    assert "'I'" in data["error"]["reason"]


def test_json_invalid_length() -> None:
    data = json.loads(run("123", "--json").stdout)
    assert data["error"] == {
        "reason": "expected 18 characters (unified social credit code or resident ID number), got 3",
        "position": None,
    }


def test_strict_turns_warning_into_error() -> None:
    body = "71092546"
    wrong = "3" if org_code_check_char(body) != "3" else "4"
    first17 = "91110000" + body + wrong
    code = first17 + uscc_check_char(first17)

    lenient = run(code)
    assert lenient.exit_code == 0
    assert "warning: organisation code check character" in lenient.stdout

    data = json.loads(run(code, "--json").stdout)
    assert data["valid"] is True and len(data["warnings"]) == 1

    strict = run(code, "--strict")
    assert strict.exit_code == 1
    assert "(position 17)" in strict.stderr


def test_future_birth_date() -> None:
    first17 = f"320102{date.today().year + 1}0101001"
    seq = 1
    while uscc_check_char(first17) == resident_id_check_char(first17):
        seq += 2
        first17 = first17[:14] + f"{seq:03d}"
    result = run(first17 + resident_id_check_char(first17))
    assert result.exit_code == 1
    assert "in the future" in result.stderr
