"""``creditguard measures``: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

from _measure_lists import head, measure, write
from click.testing import CliRunner

from creditguard.cli import main

NATIONAL = head("000000", "n1", published="2025-01-01", effective="2025-01-01") + measure(
    "ST-01", steps='["procurement.*"]'
)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["measures", *args])
    return result.exit_code, result.output


def test_validate_clean_exits_0(tmp_path: Path) -> None:
    code, out = run("validate", "--no-packs", str(write(tmp_path, "n.toml", NATIONAL)))
    assert code == 0 and out.strip() == "0 errors, 0 warnings"


def test_validate_errors_exit_1_with_every_problem(tmp_path: Path) -> None:
    text = (
        head(extends="000000")
        + measure("NJ-04", steps='["procurment.*"]')
        + measure("NJ-07", category="rights_limiting").replace(
            'level = "law"', 'level = "normative_document"'
        )
    )
    path = write(tmp_path, "nanjing-2026.toml", text)
    code, out = run(
        "validate", "--no-packs", "--list", str(write(tmp_path, "n.toml", NATIONAL)), str(path)
    )
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[0] == (
        f'{path}:13: measure NJ-04 field applies_to.steps: "procurment.*" matches no known step '
        '(did you mean "procurement.*"?)'
    )
    assert (
        "measure NJ-07 field legal_basis.0.level: 《中华人民共和国政府采购法》 is a law" in lines[1]
    )
    assert lines[-1] == "2 errors, 0 warnings"


def test_validate_warnings_only_exit_0(tmp_path: Path) -> None:
    path = write(tmp_path, "w.toml", NATIONAL + 'extend_to = ["legal_representative"]\n')
    code, out = run("validate", "--no-packs", str(path))
    assert (
        code == 0
        and "warning: unknown field 'extend_to'" in out
        and out.strip().endswith("0 errors, 1 warning")
    )


def test_validate_json(tmp_path: Path) -> None:
    code, out = run(
        "validate", "--no-packs", "--json", str(write(tmp_path, "b.toml", "region = \n"))
    )
    data = json.loads(out)
    assert (
        code == 1 and data["problems"][0]["line"] == 1 and data["summary"] == "1 error, 0 warnings"
    )


def test_validate_missing_file(tmp_path: Path) -> None:
    code, out = run("validate", "--no-packs", str(tmp_path / "nope.toml"))
    assert code == 1 and "cannot read file" in out


def test_shipped_packs_validate_clean() -> None:
    root = Path(__file__).resolve().parents[2] / "plugins"
    files = sorted(str(p) for p in root.glob("creditguard-measures-*/src/*/lists/*.toml"))
    assert len(files) >= 4
    code, out = run("validate", "--no-packs", *files)
    *lines, summary = out.strip().splitlines()
    # 财库〔2016〕125号 is cited as a whole, as the instruments table records it
    # (article = "*"), so citing it without an article is no longer a warning.
    assert (code, summary) == (0, "0 errors, 0 warnings"), lines


def test_show_from_list_files(tmp_path: Path) -> None:
    city = head(extends="000000", published="2025-06-01", effective="2025-06-01") + measure(
        "NJ-01", steps='["subsidy.*"]', effect="restrict"
    )
    n, c = write(tmp_path, "n.toml", NATIONAL), write(tmp_path, "c.toml", city)
    code, out = run(
        "show",
        "--region",
        "320100",
        "--at",
        "2026-03-01",
        "--no-packs",
        "--list",
        str(n),
        "--list",
        str(c),
    )
    assert code == 0
    assert "measure list in force for 320100 on 2026-03-01: 320100 1 ← 000000 n1" in out
    assert "ST-01  测试措施  deny  rights_limiting  from 000000 n1" in out
    code, out = run(
        "show",
        "--region",
        "320100",
        "--at",
        "2026-03-01",
        "--json",
        "--no-packs",
        "--list",
        str(n),
        "--list",
        str(c),
    )
    data = json.loads(out)
    assert [(m["code"], m["list_region"]) for m in data["measures"]] == [
        ("NJ-01", "320100"),
        ("ST-01", "000000"),
    ]
    # Replay before the city's list: the national list governs.
    code, out = run(
        "show",
        "--region",
        "320100",
        "--at",
        "2025-05-01",
        "--json",
        "--no-packs",
        "--list",
        str(n),
        "--list",
        str(c),
    )
    assert json.loads(out)["list_region"] == "000000"


def test_show_refuses_invalid_lists(tmp_path: Path) -> None:
    orphan = write(tmp_path, "c.toml", head(extends="320000") + measure())
    code, out = run("show", "--region", "320100", "--no-packs", "--list", str(orphan))
    assert code == 1 and "parent list 320000 is not installed" in out


def test_show_without_lists(tmp_path: Path) -> None:
    code, out = run("show", "--region", "320100", "--no-packs")
    assert code == 1 and "no measure list is installed" in out


def test_show_installed_packs() -> None:
    code, out = run("show", "--region", "310000", "--at", "2026-03-01")
    assert code == 0 and "SH-01" in out and "ST-01" in out


def test_explain(tmp_path: Path) -> None:
    n = write(
        tmp_path, "n.toml", NATIONAL + measure("ST-02", steps='["subsidy.*"]', effect="restrict")
    )
    code, out = run(
        "explain",
        "--region",
        "320100",
        "--step",
        "subsidy.apply",
        "--list-kind",
        "blacklist",
        "--at",
        "2026-03-01",
        "--no-packs",
        "--list",
        str(n),
    )
    assert code == 0
    assert "ST-02  测试措施  restrict  applies (blacklist, court_enforcement, subsidy.*)" in out
    assert "ST-01  测试措施  deny  does not apply: step subsidy.apply is not procurement.*" in out
    assert out.strip().endswith("1 of 2 measures apply")


def test_explain_requires_list_kind() -> None:
    code, _ = run("explain", "--region", "320100", "--step", "x")
    assert code == 2


def test_diff(tmp_path: Path) -> None:
    old = write(tmp_path, "old.toml", NATIONAL)
    new = write(
        tmp_path,
        "new.toml",
        NATIONAL.replace('version = "n1"', 'version = "n2"').replace(
            '"procurement.*"', '"procurement.bid"'
        )
        + measure("ST-02"),
    )
    code, out = run("diff", str(old), str(new))
    assert code == 0
    assert "~ version: n1 → n2" in out
    assert "~ ST-01\n    applies_to.steps: ['procurement.*'] → ['procurement.bid']" in out
    assert "+ ST-02  测试措施  deny" in out and out.strip().endswith(
        "1 added, 0 removed, 1 changed"
    )
    code, out = run("diff", str(old), str(old))
    assert out.strip() == "no differences"


def test_diff_bad_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.toml", "region = [")
    code, out = run("diff", str(bad), str(bad))
    assert code == 1 and f"{bad}:1" in out


def test_schema(tmp_path: Path) -> None:
    code, out = run("schema")
    assert code == 0 and json.loads(out)["title"] == "creditguard measure list"
    target = tmp_path / "s.json"
    code, _ = run("schema", "-o", str(target))
    assert (
        code == 0
        and json.loads(target.read_text(encoding="utf-8"))["additionalProperties"] is False
    )


def test_documented_example_validates(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "measure-lists.md").read_text(
        encoding="utf-8"
    )
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    code, out = run("validate", str(write(tmp_path, "nanjing.toml", example)))
    assert (code, out.strip()) == (0, "0 errors, 0 warnings")
