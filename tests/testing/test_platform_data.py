"""Loading and saving platform data, the TOML writer, and the pytest fixtures."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from kit_helpers import ORG, ORG2, PERSON

import creditguard.testing as kit
from creditguard.errors import InvalidRecordError
from creditguard.testing import ReferencePlatform, load_jsonl, load_measure_files, save_jsonl
from creditguard.testing.pytest_plugin import to_toml

SRC = Path(kit.__file__).resolve().parents[2]

MEASURES_TOML = """\
region = "320100"
version = "2026.1"
issued_by = "南京市社会信用体系建设领导小组办公室"
effective_from = 2026-03-01

[[measures]]
code = "NJ-01"
title = "限制申请市级财政补贴"
category = "rights_limiting"
legal_basis = [{ title = "《关于加快推进失信被执行人信用监督、警示和惩戒机制建设的意见》（中办发〔2016〕64号）", article = "二", level = "policy_document" }]
applies_to = { list_kinds = ["blacklist"], domains = ["court_enforcement"], steps = ["subsidy.*"] }
effect = "restrict"
"""


def _line(code: str, record_id: str, **subject: Any) -> str:
    record = {
        "record_id": record_id,
        "list_kind": "blacklist",
        "domain": "court_enforcement",
        "listed_on": "2025-11-03",
        "expires_on": None,
        "status": "listed",
        "public": True,
        "region": "320100",
        "role": "self",
    }
    return json.dumps({"subject": {"code": code, **subject}, "record": record}, ensure_ascii=False)


def test_public_names_are_sorted_and_importable() -> None:
    assert kit.__all__ == sorted(kit.__all__)
    for name in kit.__all__:
        assert getattr(kit, name) is not None
    with pytest.raises(AttributeError):
        _ = kit.NoSuchName


def test_load_jsonl_serves_the_records(
    tmp_path: Path, platform: ReferencePlatform, client: httpx.Client
) -> None:
    data = tmp_path / "records.jsonl"
    rep = {"code": PERSON, "name": "张三"}
    data.write_text(
        "\n".join(
            [
                _line(ORG, "JS-1", kind="organization", name="某某公司", legal_representative=rep),
                "",
                _line(ORG2, "JS-2"),
            ]
        ),
        encoding="utf-8",
    )
    assert load_jsonl(platform, data) == 2
    body = client.get(f"/v1/subjects/{ORG}/records").json()
    assert body["subject"]["name"] == "某某公司"
    assert body["records"][0]["record_id"] == "JS-1"
    related = client.get(
        f"/v1/subjects/{PERSON}/records", params={"include_related": "true"}
    ).json()
    assert related["records"][0]["via"] == ORG


def test_save_then_load_round_trips(tmp_path: Path, platform: ReferencePlatform) -> None:
    platform.add_record(ORG, record_id="A", list_kind="focus", domain="tax")
    platform.add_record(ORG2, record_id="B")
    path = tmp_path / "out.jsonl"
    assert save_jsonl(platform, path) == 2
    copy = ReferencePlatform()
    load_jsonl(copy, path)
    assert copy.records_of(ORG) == platform.records_of(ORG)
    assert copy.subject(ORG2) == platform.subject(ORG2)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ('{"subject": {"code": "123"}, "record": {}}', "subject.code"),
        (
            json.dumps({"subject": {"code": ORG}, "record": {"record_id": "X"}}),
            "record.list_kind is missing",
        ),
        ('{"record": {}}', "expected"),
    ],
)
def test_load_jsonl_names_file_and_line(
    tmp_path: Path, platform: ReferencePlatform, line: str, message: str
) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text(_line(ORG, "OK") + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InvalidRecordError, match=message) as info:
        load_jsonl(platform, data)
    assert f"{data}:2:" in str(info.value)
    assert platform.subject(ORG) is None  # nothing was added


def test_load_jsonl_missing_file(tmp_path: Path, platform: ReferencePlatform) -> None:
    with pytest.raises(InvalidRecordError, match="cannot read"):
        load_jsonl(platform, tmp_path / "absent.jsonl")


def test_load_measure_files(
    tmp_path: Path, platform: ReferencePlatform, client: httpx.Client
) -> None:
    path = tmp_path / "nanjing.toml"
    path.write_text(MEASURES_TOML, encoding="utf-8")
    assert load_measure_files(platform, [path]) == ["320100"]
    body = client.get("/v1/measure-lists/320100").json()
    assert body["measures"][0]["code"] == "NJ-01"
    assert body["effective_from"] == "2026-03-01"


def test_to_toml_round_trips() -> None:
    config: dict[str, Any] = {
        "guard": {
            "unit_code": "320100-TEST",
            "deadline_ms": 800,
            "commitment_steps": ["licensing.commitment"],
        },
        "sources": [
            {
                "name": "platform",
                "type": "platform",
                "base_url": 'http://x/"q"',
                "verify": True,
                "nested": {"a": 1.5},
            },
            {"name": "mirror", "type": "mirror", "skip": None},
        ],
        "measures": {"aliases": {"320102": "320100"}, "files": []},
        "failure": {"steps": {"procurement.*": "stale"}},
    }
    parsed = tomllib.loads(to_toml(config))
    assert parsed["guard"] == config["guard"]
    assert parsed["sources"][0] == config["sources"][0]
    assert parsed["sources"][1] == {"name": "mirror", "type": "mirror"}
    assert parsed["measures"] == config["measures"]
    assert parsed["failure"] == config["failure"]


# --- the fixtures, used directly ---------------------------------------------------------


def test_platform_fixtures_serve_over_loopback(
    creditguard_platform: ReferencePlatform,
    creditguard_platform_url: str,
    creditguard_client: httpx.Client,
) -> None:
    creditguard_platform.add_record(ORG, list_kind="blacklist", domain="court_enforcement")
    assert creditguard_platform_url.startswith("http://127.0.0.1:")
    resp = creditguard_client.get(f"/v1/subjects/{ORG}/records")
    assert resp.json()["records"][0]["domain"] == "court_enforcement"
    assert creditguard_platform.requests_log[0].status == 200


def test_config_fixture_points_at_the_platform(
    creditguard_config: dict[str, Any], creditguard_platform_url: str
) -> None:
    [source] = creditguard_config["sources"]
    assert source["type"] == "platform"
    assert source["base_url"] == creditguard_platform_url
    assert (source["app_key"], source["secret"]) == ("test-key", "test-secret")


# --- the plugin as an integrator's pytest run loads it ------------------------------------


def _plugin_installed() -> bool:
    return any(
        ep.value == "creditguard.testing.pytest_plugin"
        for ep in importlib.metadata.entry_points(group="pytest11")
    )


def _run_inner_pytest(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_workflow.py").write_text(textwrap.dedent(source), encoding="utf-8")
    args = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)]
    if not _plugin_installed():
        args[3:3] = ["-p", "creditguard.testing.pytest_plugin"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.integration
def test_plugin_gives_platform_fixtures_to_an_integrators_suite(tmp_path: Path) -> None:
    done = _run_inner_pytest(
        tmp_path,
        f"""
        def test_blacklisted(creditguard_platform, creditguard_client):
            creditguard_platform.add_record("{ORG}", list_kind="blacklist", domain="court_enforcement")
            body = creditguard_client.get("/v1/subjects/{ORG}/records").json()
            assert body["records"][0]["list_kind"] == "blacklist"
            assert creditguard_platform.requests_log[0].path == "/v1/subjects/{ORG}/records"
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


@pytest.mark.integration
def test_plugin_guard_fixture_builds_a_guard_or_skips(tmp_path: Path) -> None:
    done = _run_inner_pytest(
        tmp_path,
        """
        def test_guard(creditguard_guard):
            assert type(creditguard_guard).__name__ == "Guard"
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout or "1 skipped" in done.stdout
