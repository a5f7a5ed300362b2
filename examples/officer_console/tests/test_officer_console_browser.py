"""The officer console in headless Chromium: submit the form, screenshot the decision page.

The screenshots are test artifacts, written to ``$OFFICER_CONSOLE_ARTIFACTS``
or else ``build/artifacts/officer_console/`` at the repository root:
``decision.png`` (the decision page after the form was submitted) and
``override.png`` (after an audited override). Without Chromium the test is
skipped, except under ``CI=true`` (``.ci/run`` installs Debian's ``chromium``),
where it fails.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from headless_chromium import Browser, find_chromium
from werkzeug.serving import make_server

BIDDER = "91320100MA1W2K7D41"
REPO = Path(__file__).resolve().parents[3]


def artifacts_dir() -> Path:
    return Path(
        os.environ.get("OFFICER_CONSOLE_ARTIFACTS") or REPO / "build/artifacts/officer_console"
    )


@pytest.fixture
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return binary


@pytest.fixture
def served(console: Any) -> Iterator[str]:
    """The console on a loopback port, in a thread."""
    server = make_server("127.0.0.1", 0, console, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[Browser]:
    b = Browser(chromium, tmp_path / "chromium-profile")  # a fresh profile every run
    try:
        yield b
    finally:
        b.close()


def fill(browser: Browser, values: dict[str, str]) -> None:
    for selector, value in values.items():
        browser.js(f"document.querySelector({selector!r}).value = {value!r}")


def test_officer_submits_the_form_and_sees_the_decision(
    served: str, browser: Browser, creditguard_platform: Any, creditguard_guard: Any
) -> None:
    creditguard_platform.add_record(BIDDER, list_kind="blacklist", domain="procurement")
    browser.open(served + "/")
    assert browser.js("document.title") == "信用核查经办人工作台"
    fill(
        browser,
        {
            "#ref": "NJCG-2026-0315-007",
            "#code": BIDDER,
            "#step": "procurement.bid",
            "#region": "320100",
        },
    )
    browser.click_and_wait("#submit")

    assert "/decisions/" in browser.js("location.pathname")
    outcome = browser.js("document.querySelector('#outcome').innerText")
    assert "不予通过" in outcome and "已核实" in outcome
    measures = browser.js("document.querySelector('#measures').innerText")
    assert "S-01" in measures and "《中华人民共和国政府采购法》第七十七条" in measures
    shot = browser.screenshot(artifacts_dir() / "decision.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    fill(
        browser,
        {
            "#officer": "王经办",
            "#justification": "认定部门已出具撤销决定书（苏财购〔2026〕12号），记录有误",
        },
    )
    browser.js("document.querySelector('input[value=override]').checked = true")
    browser.click_and_wait("#act")
    trail = browser.js("document.querySelector('#actions').innerText")
    assert "推翻核查结果" in trail and "王经办" in trail
    browser.screenshot(artifacts_dir() / "override.png")
    assert creditguard_guard.deliver_now()
    assert {f["action"] for f in creditguard_platform.feedback_for(BIDDER)} == {"not_applied"}
