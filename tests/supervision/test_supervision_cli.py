"""The lifecycle, repair, history, disclosures and report commands over real files."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from creditguard.cli import main
from creditguard.masking import unmasked_numbers

ORG = "91320100MA1W2K7D41"
PERSON = "110101199003074573"
RECORD = {
    "record_id": "JS-2026-000123",
    "list_kind": "blacklist",
    "domain": "market_regulation",
    "authority": {"code": "320100-SJ", "name": "南京市市场监督管理局"},
    "listed_on": "2026-01-05",
    "status": "listed",
    "region": "320100",
}


def _setup(tmp_path: Path, adopt: bool = True) -> tuple[CliRunner, list[str]]:
    rules = (
        '\nrules = { "320100" = [{ pack = "notice-893-2018", from = 2021-01-01 }] }'
        if adopt
        else ""
    )
    rules += (
        '\nrepair_rules = { "320100" = [{ pack = "notice-893-2018", from = 2021-01-01 }] }'
        if adopt
        else ""
    )
    (tmp_path / "creditguard.toml").write_text(
        f'[guard]\nunit_code = "320100-SJ"\ndata_dir = "var"\n\n[supervision]{rules}\n',
        encoding="utf-8",
    )
    (tmp_path / "record.json").write_text(json.dumps(RECORD), encoding="utf-8")
    return CliRunner(), ["--config", str(tmp_path / "creditguard.toml")]


def test_lifecycle_commands_history_repair_and_report(tmp_path: Path) -> None:
    runner, cfg = _setup(tmp_path)
    rid = ["--record", "JS-2026-000123"]

    def run(*args: str) -> tuple[int, str]:
        r = runner.invoke(main, [*args, *cfg])
        return r.exit_code, r.output

    assert run("lifecycle", "register", ORG, "--record-file", str(tmp_path / "record.json"))[0] == 0
    code, out = run(
        "lifecycle",
        "order",
        *rid,
        "--requirements",
        "补缴",
        "--deadline",
        "2026-03-16",
        "--at",
        "2026-03-02T10:00:00+08:00",
    )
    assert code == 0 and json.loads(out)["events"][0]["type"] == "rectification.ordered"
    code, out = run(
        "lifecycle",
        "interview",
        *rid,
        "--kind",
        "warning",
        "--name",
        "张三",
        "--role",
        "responsible_person",
        "--at",
        "2026-03-10T10:00:00+08:00",
    )
    assert code == 1 and "interview.after_missed_deadline" in out
    code, out = run(
        "lifecycle",
        "interview",
        *rid,
        "--kind",
        "warning",
        "--name",
        "张三",
        "--role",
        "responsible_person",
        "--at",
        "2026-03-17T10:00:00+08:00",
    )
    assert code == 0, out
    code, out = run(
        "lifecycle",
        "person",
        *rid,
        "--code",
        PERSON,
        "--name",
        "赵六",
        "--role",
        "related_person",
        "--at",
        "2026-03-17T11:00:00+08:00",
    )
    assert code == 0, out
    code, out = run("repair", "check", ORG, *rid, "--as-of", "2026-03-18", "--json")
    assert code == 1 and json.loads(out)["may_apply"] is False
    code, out = run("history", ORG)
    assert code == 0 and "interview.held" in out and "张*" in out and "张三" not in out
    assert "赵*" in out and unmasked_numbers(out) == []
    code, out = run("history", ORG, "--json")
    types = [e["type"] for e in json.loads(out)["events"]]
    assert types == [
        "rectification.ordered",
        "rectification.overdue",
        "interview.held",
        "responsible_person.named",
    ]
    code, out = run("report", "--from", "2026-03-01", "--to", "2026-03-31", "--json")
    figures = json.loads(out)["regions"]["320100"]
    assert figures["interviews"]["warning"] == 1 and figures["rectifications"]["overdue"] == 1
    assert json.loads(out)["outbox"]["pending"] == 4
    code, out = run("disclosures", "overdue", "--as-of", "2026-04-01")
    assert code == 0 and "no disclosure is overdue" in out


def test_without_an_adopted_pack_the_commands_say_so(tmp_path: Path) -> None:
    runner, cfg = _setup(tmp_path, adopt=False)
    runner.invoke(
        main, ["lifecycle", "register", ORG, "--record-file", str(tmp_path / "record.json"), *cfg]
    )
    r = runner.invoke(
        main,
        [
            "lifecycle",
            "order",
            "--record",
            "JS-2026-000123",
            "--requirements",
            "x",
            "--deadline",
            "2026-03-16",
            "--at",
            "2026-03-02T10:00:00+08:00",
            *cfg,
        ],
    )
    assert r.exit_code == 1 and "no rule set is configured" in r.output


def test_lifecycle_needs_a_config(tmp_path: Path, monkeypatch: object) -> None:
    r = CliRunner(env={"CREDITGUARD_CONFIG": ""}).invoke(main, ["history", ORG])
    assert r.exit_code == 2 and "configuration" in r.output
