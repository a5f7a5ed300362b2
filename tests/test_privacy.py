"""Personal data never appears whole in reprs, default JSON or log lines (issue 8 item 10).

Resident ID numbers here are made up (check character computed).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

import creditguard
from creditguard.codes import resident_id_check_char
from creditguard.masking import (
    LOGGERS_MASKED,
    MaskingFilter,
    mask_code,
    mask_decision_data,
    mask_text,
    unmasked_numbers,
)
from creditguard.models import CreditRecord, Decision, RelatedPerson, Subject, SubjectRecords

ORG = "91110000710925462X"


def _person(division: str = "320102", birth: str = "19900307", seq: str = "123") -> str:
    first17 = division + birth + seq
    return first17 + resident_id_check_char(first17)


PERSON = _person()
REP = _person("110105", "19750611", "042")


def _decision(code: str = PERSON, kind: str = "person") -> Decision:
    return Decision.model_validate(
        {
            "decision_id": "d-1",
            "subject_code": code,
            "subject_kind": kind,
            "subject_name": "张三丰" if kind == "person" else "某某有限公司",
            "step": "procurement.bid",
            "region": "320100",
            "as_of": "2025-06-01",
            "outcome": "review",
            "decided_at": datetime(2025, 6, 1, tzinfo=UTC),
            "records": [
                {
                    "source": "platform",
                    "subject_code": code,
                    "record": {
                        "record_id": "R-1",
                        "list_kind": "blacklist",
                        "listed_on": "2024-05-10",
                        "status": "listed",
                        "note": f"legal representative {REP}",  # an unknown field
                    },
                }
            ],
            "possible_matches": [
                {
                    "source": "agency",
                    "name": "张三",
                    "identifier": PERSON[:6] + "****" + PERSON[10:],
                }
            ],
        }
    )


def _no_full_number(text: str) -> None:
    for number in (PERSON, REP):
        assert number not in text
        assert number[6:14] not in text  # the birth date part


def test_decision_repr_and_str_are_masked() -> None:
    d = _decision()
    for shown in (
        repr(d),
        str(d),
        f"{d!r}",
        repr([d]),
        repr(d.records[0]),
        repr(d.records[0].record),
    ):
        _no_full_number(shown)
    assert PERSON[:6] + "********" + PERSON[14:] in repr(d)
    assert "张三丰" not in repr(d) and "张**" in repr(d)


def test_organisation_decision_shows_its_code_but_not_people() -> None:
    d = _decision(ORG, "organization")
    assert ORG in repr(d)
    assert "某某有限公司" in repr(d)  # organisations' names are public
    _no_full_number(repr(d))


def test_subject_reprs_mask_related_persons() -> None:
    subject = Subject(
        code=ORG, kind="organization", legal_representative=RelatedPerson(code=REP, name="李四")
    )
    sr = SubjectRecords(code=ORG, subject=subject)
    for shown in (repr(subject), repr(sr), str(sr)):
        _no_full_number(shown)
        assert ORG in shown


def test_record_repr_masks_extra_fields() -> None:
    r = CreditRecord.model_validate(
        {
            "record_id": "R-1",
            "list_kind": "blacklist",
            "listed_on": date(2024, 5, 10),
            "status": "listed",
            "related": PERSON,
        }
    )
    _no_full_number(repr(r))


def test_mask_decision_data_masks_every_number() -> None:
    data = mask_decision_data(_decision().model_dump(mode="json"))
    import json

    text = json.dumps(data, ensure_ascii=False)
    _no_full_number(text)
    assert data["subject_code"] == PERSON[:6] + "********" + PERSON[14:]
    assert data["subject_name"] == "张**"
    assert data["possible_matches"][0]["name"] == "张*"
    org = mask_decision_data(_decision(ORG, "organization").model_dump(mode="json"))
    assert org["subject_code"] == ORG
    assert org["subject_name"] == "某某有限公司"


def test_mask_text_keeps_organisation_codes() -> None:
    assert mask_text(f"{ORG} and 911101198011200109") == f"{ORG} and 911101198011200109"
    assert mask_text(f"/persons/{PERSON}/records") == f"/persons/{mask_code(PERSON)}/records"
    assert mask_text("no digits") == "no digits"


# --- the logging safety net --------------------------------------------------------------


def test_every_creditguard_logger_is_masked() -> None:
    # A filter on a logger does not see its children's records: every name must be listed.
    root = Path(creditguard.__file__).parents[2]  # src/creditguard -> the repository
    files = [*(root / "src").rglob("*.py"), *root.glob("adapters/*/src/**/*.py")]
    names = set()
    for py in files:
        text = py.read_text("utf-8")
        assert "getLogger(__name__)" not in text, f"{py}: name the logger so it can be masked"
        names.update(re.findall(r"getLogger\(\"(creditguard[\w.]*)\"\)", text))
    assert names, "no creditguard loggers found"
    assert names <= set(LOGGERS_MASKED), names - set(LOGGERS_MASKED)
    for name in LOGGERS_MASKED:
        assert any(isinstance(f, MaskingFilter) for f in logging.getLogger(name).filters), name


@pytest.mark.parametrize("name", ["creditguard", "creditguard.outbox", "httpx"])
def test_log_records_are_masked(caplog: pytest.LogCaptureFixture, name: str) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger(name).info("lookup %s for %s failed", PERSON, ORG)
    logging.getLogger(name).info("nothing personal: %s", ORG)
    assert caplog.messages[0] == f"lookup {mask_code(PERSON)} for {ORG} failed"
    assert caplog.records[1].args == (ORG,)  # untouched records keep their arguments
    _no_full_number(caplog.text)


def test_exception_text_in_log_records_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    try:
        raise ValueError(f"bad subject {PERSON}")
    except ValueError:
        logging.getLogger("creditguard").exception("check failed")
    assert "ValueError" in caplog.text
    _no_full_number(caplog.text)


def test_httpx_request_line_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with httpx.Client(transport=transport, base_url="http://platform.test") as client:
        client.get(f"/api/v1/persons/{PERSON}/records")
    assert any("HTTP Request" in m for m in caplog.messages)
    _no_full_number(caplog.text)
    assert mask_code(PERSON) in caplog.text


def test_unmasked_numbers_and_prefixed_codes() -> None:
    text = f"ok {mask_code(PERSON)} {ORG}; bad {PERSON} and {REP.lower()}"
    assert unmasked_numbers(text) == [PERSON, REP.lower()]
    assert unmasked_numbers(mask_text(text)) == []
    assert mask_code("ID:" + PERSON) == "ID:" + mask_code(PERSON)
    assert mask_code(PERSON[:-1]) == PERSON[:6] + "*******" + PERSON[13:17]
    assert mask_code(ORG) == ORG


# --- the suite-wide watch (conftest.py at the repository root) -----------------------------


def _run_watch(tmp_path: Path, test_source: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[1]
    shutil.copy(root / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(test_source, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_watch_fails_a_session_that_prints_or_logs_a_number(tmp_path: Path) -> None:
    source = (
        "import logging\n"
        "def test_prints():\n"
        f"    print('subject {PERSON}')\n"
        "def test_logs():\n"
        f"    logging.getLogger('creditguard').debug('lookup {REP}')\n"
        "def test_clean():\n"
        f"    print('{ORG} {mask_code(PERSON)}')\n"
    )
    done = _run_watch(tmp_path, source)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "privacy watch" in done.stdout
    assert "test_prints" in done.stdout and "test_logs" not in done.stdout  # the filter masked it
    assert "test_clean" not in done.stdout.split("privacy watch")[1]
    assert PERSON not in done.stdout  # the report itself masks


def test_watch_lets_marked_tests_show_numbers(tmp_path: Path) -> None:
    source = (
        "import pytest\n"
        "@pytest.mark.shows_personal_data\n"
        "def test_unmask():\n"
        f"    print('{PERSON}')\n"
    )
    done = _run_watch(tmp_path, source)
    assert done.returncode == 0, done.stdout + done.stderr
