"""``creditguard disclosures prepare`` and ``withdraw`` over real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from creditguard.cli import main
from creditguard.masking import unmasked_numbers
from creditguard.outbox import SqliteOutbox

PERSON = "110101199003074573"


def _setup(tmp_path: Path) -> list[str]:
    (tmp_path / "creditguard.toml").write_text(
        '[guard]\nunit_code = "320100-SJ"\ndata_dir = "var"\n\n[outbox]\ndeliver = false\n',
        encoding="utf-8",
    )
    return ["--config", str(tmp_path / "creditguard.toml")]


def _file(tmp_path: Path, **kw: Any) -> str:
    data: dict[str, Any] = {
        "disclosure_id": "320100-SJ-XZCF-2026-001",
        "kind": "administrative_penalty",
        "subject": {"code": PERSON, "name": "王小明"},
        "decision_no": "宁市监罚〔2026〕12号",
        "decided_on": "2026-09-28",
        "authority": {"code": "320100-SJ", "name": "南京市市场监督管理局"},
        "content": f"当事人王小明（身份证号{PERSON}）无照经营，罚款五千元。",
        "publish_until": "2029-09-28",
        "fields": {"fine": "5000", "supplier_price": "秘密"},
        "trade_secrets": ["supplier_price"],
    }
    data.update(kw)
    path = tmp_path / "disclosure.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_prepare_and_withdraw(tmp_path: Path) -> None:
    cfg = _setup(tmp_path)
    runner = CliRunner()
    r = runner.invoke(main, ["disclosures", "prepare", "--file", _file(tmp_path), "--json", *cfg])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    # 7 working days after Monday 2026-09-28, across the National Day holiday (10-01 … 10-07;
    # Saturday 10-10 is a make-up working day): 09-29, 09-30, 10-08, 10-09, 10-10, 10-12, 10-13.
    assert doc["publish_by"] == "2026-10-13"
    req = doc["request"]
    assert req["subject"] == {"code": "110101********4573", "name": "王**"}
    assert "王小明" not in r.output and unmasked_numbers(r.output) == []
    assert req["fields"] == {"fine": "5000"}
    assert {e["field"] for e in doc["mask_log"]} >= {
        "subject.code",
        "content",
        "fields.supplier_price",
    }

    again = runner.invoke(main, ["disclosures", "prepare", "--file", _file(tmp_path), *cfg])
    assert again.exit_code == 1 and "already exists" in again.output

    w = runner.invoke(
        main,
        [
            "disclosures",
            "withdraw",
            "320100-SJ-XZCF-2026-001",
            "--reason",
            "penalty_revoked",
            "--decided-on",
            "2026-09-30",
            "--json",
            *cfg,
        ],
    )
    assert w.exit_code == 0, w.output
    assert (
        json.loads(w.output)["withdraw_by"] == "2026-10-10"
    )  # 3 working days: 10-08, 10-09, 10-10
    twice = runner.invoke(
        main,
        [
            "disclosures",
            "withdraw",
            "320100-SJ-XZCF-2026-001",
            "--reason",
            "other",
            "--decided-on",
            "2026-10-01",
            *cfg,
        ],
    )
    assert twice.exit_code == 1 and "disclosure.withdraw_once" in twice.output
    box = SqliteOutbox(str(tmp_path / "var" / "outbox.db"))
    try:
        assert box.status(now=0).by_kind == {"disclosure": 2}
    finally:
        box.close()


def test_refusals_store_nothing(tmp_path: Path) -> None:
    cfg = _setup(tmp_path)
    runner = CliRunner()
    r = runner.invoke(
        main, ["disclosures", "prepare", "--file", _file(tmp_path, public=False), *cfg]
    )
    assert r.exit_code == 1 and "disclosure.public_only" in r.output
    r = runner.invoke(
        main,
        [
            "disclosures",
            "prepare",
            "--file",
            _file(tmp_path, decided_on="2027-03-01", publish_until="2028-01-01"),
            *cfg,
        ],
    )
    assert r.exit_code == 1 and "2027" in r.output
    r = runner.invoke(
        main, ["disclosures", "prepare", "--file", _file(tmp_path, colour="red"), *cfg]
    )
    assert r.exit_code == 1 and "unknown key(s) colour" in r.output
    r = runner.invoke(
        main,
        [
            "disclosures",
            "withdraw",
            "nope",
            "--reason",
            "other",
            "--decided-on",
            "2026-10-01",
            *cfg,
        ],
    )
    assert r.exit_code == 1 and "no disclosure" in r.output
    box = SqliteOutbox(str(tmp_path / "var" / "outbox.db"))
    try:
        assert box.status(now=0).pending == 0
    finally:
        box.close()
