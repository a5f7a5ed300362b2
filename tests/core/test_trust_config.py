"""The configuration cannot quietly mean "check against nothing" or "a number it is not"."""

from __future__ import annotations

import json
import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from _coredata import ORG_BLACK
from click.testing import CliRunner, Result

from creditguard import Guard
from creditguard.cli import main
from creditguard.config import CONFIG_ENV, Config, config_from_dict, load_config, redacted
from creditguard.errors import ConfigError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def cli(*args: str, cwd: Path, env: dict[str, str | None] | None = None) -> Result:
    blocked = ",".join(sorted({ep.name for ep in entry_points(group="creditguard")}))
    environ: dict[str, str | None] = {CONFIG_ENV: None, "CREDITGUARD_DISABLE_PLUGINS": blocked}
    environ.update(env or {})
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args), env=environ)
    finally:
        os.chdir(old)


# --- sources and the missing file ------------------------------------------------------------


def test_zero_sources_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no record source"):
        config_from_dict({"sources": []}, name="c.toml")
    p = write(tmp_path / "c.toml", "sources = []\n")
    with pytest.raises(ConfigError, match=r"c\.toml: sources: .*no record source"):
        load_config(p)


def test_no_file_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert load_config() == Config()  # inspecting tools still get the defaults
    with pytest.raises(ConfigError, match="CREDITGUARD_CONFIG"):
        load_config(required=True)
    with pytest.raises(ConfigError, match="--config FILE or set CREDITGUARD_CONFIG"):
        Guard.from_config(load_entrypoints=False)
    with pytest.raises(ConfigError, match="no configuration"):
        Guard(load_entrypoints=False)


@pytest.mark.parametrize("command", ["check", "screen"])
def test_checking_commands_without_a_config_exit_2(tmp_path: Path, command: str) -> None:
    csv = write(tmp_path / "in.csv", f"code\n{ORG_BLACK}\n")
    args = {
        "check": ["check", ORG_BLACK],
        "screen": ["screen", str(csv), "--code-column", "code"],
    }[command]
    res = cli(*args, "--step", "procurement.bid", "--region", "320100", cwd=tmp_path)
    assert res.exit_code == 2, res.output
    assert "no configuration file" in res.stderr and "--config" in res.stderr
    assert "Traceback" not in res.output
    assert not (tmp_path / ".creditguard").exists()  # no silent mirror in the working folder


# --- strict numbers and switches ------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("guard", "deadline_ms", "true"),
        ("guard", "deadline_ms", '"800"'),
        ("guard", "deadline_ms", "800.0"),
        ("guard", "cache_ttl_s", "true"),
        ("guard", "cache_ttl_s", '"300"'),
        ("guard", "cache_size", "false"),
        ("failure", "max_stale_s", '"86400"'),
        ("measures", "packs", '"false"'),
        ("measures", "packs", "0"),
        ("journal", "enabled", '"yes"'),
        ("journal", "flush_interval_s", "true"),
        ("outbox", "deliver", "1"),
        ("outbox", "drain_timeout_s", '"5"'),
    ],
)
def test_numbers_and_switches_are_strict(tmp_path: Path, table: str, key: str, value: str) -> None:
    p = write(tmp_path / "c.toml", f"[{table}]\n{key} = {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert f"{table}.{key}" in str(info.value) and str(p) in str(info.value)


def test_integers_still_serve_as_seconds(tmp_path: Path) -> None:
    p = write(tmp_path / "c.toml", "[guard]\ncache_ttl_s = 0\ndeadline_ms = 500\n")
    cfg = load_config(p)
    assert cfg.guard.cache_ttl_s == 0.0 and cfg.guard.deadline_ms == 500


@pytest.mark.parametrize("steps", ['["housing.*"]', '["Housing.Allocate"]', '["a b"]'])
def test_declared_steps_are_exact_names(tmp_path: Path, steps: str) -> None:
    p = write(tmp_path / "c.toml", f"[guard]\nsteps = {steps}\n")
    with pytest.raises(ConfigError, match=r"guard\.steps"):
        load_config(p)


# --- encodings -------------------------------------------------------------------------------


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_bytes(b"\xef\xbb\xbf" + b'[guard]\nunit_code = "320100-CG"\n')
    assert load_config(p).guard.unit_code == "320100-CG"


def test_gbk_bytes_name_the_file_and_utf8(tmp_path: Path) -> None:
    p = write(tmp_path / "c.toml", '[guard]\nunit_code = "南京市信用中心"\n', encoding="gbk")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert str(p) in msg and "UTF-8" in msg


# --- config show -----------------------------------------------------------------------------


def test_config_show_with_a_missing_measures_file_exits_2(tmp_path: Path) -> None:
    p = write(tmp_path / "c.toml", '[measures]\nfiles = ["lists/320100.toml"]\n')
    res = cli("config", "show", "--config", str(p), cwd=tmp_path)
    assert res.exit_code == 2, res.output
    assert "320100.toml does not exist" in res.stderr and "Traceback" not in res.output


def test_config_show_redacts_every_secret(tmp_path: Path) -> None:
    p = write(
        tmp_path / "c.toml",
        '[guard]\nunit_code = "320100-CG"\n'
        '[outbox]\npath = "postgresql://cg:Pg-Pa55word@db.example:5432/credit"\n'
        '[[sources]]\nname = "p"\ntype = "platform"\nbase_url = "https://x.example/api"\n'
        'app_key = "k"\nsecret = "s3cret-value"\nsecret_env = "CG_SECRET"\n'
        '[[sources]]\nname = "t"\ntype = "tianyancha"\ntoken = "tyc-token-1"\n',
    )
    for args in (["--json"], []):
        res = cli("config", "show", "--config", str(p), *args, cwd=tmp_path)
        assert res.exit_code == 0, res.output
        for secret in ("Pg-Pa55word", "s3cret-value", "tyc-token-1"):
            assert secret not in res.output
        assert "CG_SECRET" in res.output  # the variable's name is not a secret
    data = json.loads(cli("config", "show", "--config", str(p), "--json", cwd=tmp_path).stdout)
    assert data["outbox"]["path"] == "postgresql://cg:***@db.example:5432/credit"


def test_redacted_leaves_plain_urls_alone() -> None:
    cfg = config_from_dict(
        {"sources": [{"name": "p", "type": "platform", "base_url": "https://x.example/api"}]}
    )
    data: dict[str, Any] = redacted(cfg)
    assert data["sources"][0]["base_url"] == "https://x.example/api"
