"""``creditguard platform serve``: a real process serving signed requests on loopback."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from kit_helpers import ORG

import creditguard.testing as kit
from creditguard.cli import main
from creditguard.testing import SigningAuth

SRC = Path(kit.__file__).resolve().parents[2]
MEASURES_TOML = """\
region = "320100"
version = "2026.1"

[[measures]]
code = "NJ-01"
title = "限制申请市级财政补贴"
category = "rights_limiting"
legal_basis = [{ title = "《关于加快推进失信被执行人信用监督、警示和惩戒机制建设的意见》（中办发〔2016〕64号）", article = "二", level = "policy_document" }]
applies_to = { list_kinds = ["blacklist"], domains = ["court_enforcement"], steps = ["subsidy.*"] }
effect = "restrict"
"""


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        raise AssertionError("the server printed no URL in time")
    return proc.stdout.readline().strip()


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    data = tmp_path / "records.jsonl"
    record = {
        "record_id": "JS-1",
        "list_kind": "blacklist",
        "listed_on": "2025-11-03",
        "status": "listed",
    }
    data.write_text(
        json.dumps({"subject": {"code": ORG}, "record": record}) + "\n", encoding="utf-8"
    )
    measures = tmp_path / "nanjing.toml"
    measures.write_text(MEASURES_TOML, encoding="utf-8")
    args = [sys.executable, "-c", "from creditguard.cli import main; main()", "platform", "serve"]
    args += [
        "--port",
        "0",
        "--data",
        str(data),
        "--measures",
        str(measures),
        "--secret",
        "cli-secret",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        yield proc, _first_line(proc, timeout=8)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.integration
def test_serve_answers_signed_requests_and_stops_on_sigterm(
    server_process: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = server_process
    assert url.startswith("http://127.0.0.1:") and url.endswith("/api")
    with httpx.Client(
        base_url=url, auth=SigningAuth("test-key", "cli-secret"), timeout=5
    ) as client:
        resp = client.get(f"/v1/subjects/{ORG}/records")
        assert resp.status_code == 200
        assert resp.json()["records"][0]["record_id"] == "JS-1"
        assert client.get("/v1/measure-lists/320100").json()["measures"][0]["code"] == "NJ-01"
    with httpx.Client(
        base_url=url, auth=SigningAuth("test-key", "test-secret"), timeout=5
    ) as wrong:
        assert wrong.get("/v1/pushes").status_code == 401
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0
    assert proc.stderr is not None
    assert "cli-secret" not in proc.stderr.read()


def test_serve_refuses_a_non_loopback_host() -> None:
    result = CliRunner().invoke(main, ["platform", "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output


def test_serve_reports_bad_data_file(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text("{oops\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["platform", "serve", "--data", str(data)])
    assert result.exit_code == 1
    assert f"{data}:1: not JSON" in result.output
