"""``creditguard serve``: configuration problems stop it before the port opens; it really serves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from server_helpers import TOKEN_A, Layout, bearer

from creditguard.cli import main


def test_serve_is_listed_with_its_help() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0 and "--config" in result.output


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (('unit = "320100-CG"', 'unit = "999999-XX"'), "999999-XX"),
        (("see_non_public = true", 'see_non_public = "yes"'), "see_non_public"),
        (("[server]", "[server]\nworkers = 4"), "unknown setting"),
        (('config = "unit-b.toml"', 'config = "unit-a.toml"'), "unit_code"),
    ],
)
def test_a_bad_service_file_stops_with_exit_1_naming_the_problem(
    layout: Layout, change: tuple[str, str], words: str
) -> None:
    text = layout.service_file.read_text(encoding="utf-8")
    assert change[0] in text
    layout.service_file.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", "--config", str(layout.service_file)])
    assert result.exit_code == 1
    assert words in result.output


def test_a_missing_token_variable_stops_it(layout: Layout) -> None:
    text = layout.service_file.read_text(encoding="utf-8")
    text = text.replace(f'token = "{TOKEN_A}"', 'token_env = "CG_TEST_UNSET_TOKEN_VARIABLE"')
    layout.service_file.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", "--config", str(layout.service_file)], env={})
    assert result.exit_code == 1 and "CG_TEST_UNSET_TOKEN_VARIABLE" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.integration
def test_the_command_serves_checks_on_loopback(layout: Layout) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "creditguard"),
            "serve",
            "--config",
            str(layout.service_file),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        r = httpx.post(
            f"{url}/v1/check",
            json={
                "subject_code": "91320100MA1W2K7D41",
                "step": "procurement.bid",
                "region": "320100",
            },
            headers=bearer(TOKEN_A),
            timeout=10,
        )
        assert r.status_code == 200, r.text
        assert r.json()["verification"] == "verified"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
