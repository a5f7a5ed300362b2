"""`creditguard config show|schema`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from creditguard.cli import main


def test_show_fills_defaults_and_hides_literal_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text(
        '[guard]\nunit_code = "320100-CG"\n[[sources]]\nname = "p"\ntype = "platform"\n'
        'base_url = "http://127.0.0.1:1/api"\napp_key = "k"\nsecret = "s3cret"\n',
        encoding="utf-8",
    )
    res = CliRunner().invoke(main, ["config", "show", "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["guard"]["deadline_ms"] == 800 and data["failure"]["default"] == "hold"
    assert data["sources"][0]["secret"] == "***"
    assert "s3cret" not in res.output
    assert data["resolved"]["data_dir"] == str(tmp_path / ".creditguard")


def test_show_names_the_bad_field(tmp_path: Path) -> None:
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text('[guard]\ndeadline_ms = -5\n[failure]\ndefault = "open"\n', encoding="utf-8")
    res = CliRunner().invoke(main, ["config", "show", "--config", str(cfg)])
    assert res.exit_code == 2
    assert "guard.deadline_ms" in res.output and "failure.default" in res.output


def test_schema_describes_every_table() -> None:
    res = CliRunner().invoke(main, ["config", "schema"])
    schema = json.loads(res.stdout)
    assert set(schema["properties"]) >= {
        "guard",
        "sources",
        "measures",
        "failure",
        "journal",
        "outbox",
    }
