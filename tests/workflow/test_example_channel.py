"""A second platform shape, added without touching core: the example Province X channel.

examples/channel_provx is a separate distribution whose platform speaks
nothing like platform API v1. Over a loopback Province X server, the outbox
delivers case facts through it, the push feed reads its change feed into the
mirror, and the webhook receiver verifies its pushes, all through the
``creditguard_register_channels`` hook.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from workflow_helpers import ORG_BLACK

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "channel_provx" / "src"))

from creditguard_provx import ProvXChannel, plugin, px_signature  # noqa: E402

from creditguard.cases import CaseRecorder  # noqa: E402
from creditguard.channels import open_channel  # noqa: E402
from creditguard.config import config_from_dict  # noqa: E402
from creditguard.mirror import SqliteMirror  # noqa: E402
from creditguard.outbox import Backoff, Deliverer, SqliteOutbox  # noqa: E402
from creditguard.plugins import build_plugin_manager  # noqa: E402
from creditguard.push_feed import FeedState, PushFeed  # noqa: E402
from creditguard.webhook import receive  # noqa: E402

KEY, SECRET, UNIT = "320100-CG", "px-secret-123", "320100-CG"


class ProvX:
    """Province X's platform, in memory: reports by ref, a change feed by sequence."""

    def __init__(self) -> None:
        self.reports: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.changes: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, Any]:
        url = urlsplit(target)
        auth, when = headers.get("Authorization", ""), headers.get("X-PX-Time", "")
        want = px_signature(SECRET, method, url.path, when, body)
        if auth != f"PX-HMAC {KEY}:{want}":
            return 401, {"ok": False, "reason": "bad-signature"}
        with self.lock:
            if method == "POST" and url.path == "/api/px/report":
                report = json.loads(body)
                data = report["data"]
                opened = {
                    r["data"]["caseNo"] for r in self.reports.values() if r["kind"] == "case-open"
                }
                if report["kind"] != "case-open" and data["caseNo"] not in opened:
                    return 422, {"ok": False, "reason": "unknown-case"}
                if report["ref"] not in self.reports:
                    self.reports[report["ref"]] = report
                    self.order.append(report["kind"])
                return 200, {"ok": True, "ticket": f"T-{len(self.reports)}"}
            if method == "GET" and url.path == "/api/px/changes":
                since = int(parse_qs(url.query).get("since", ["0"])[0])
                items = [c for c in self.changes if c["seq"] > since]
                return 200, {"items": items, "last": items[-1]["seq"] if items else since}
        return 404, {"ok": False, "reason": "no-such-path"}


@pytest.fixture
def provx() -> Iterator[tuple[ProvX, str]]:
    state = ProvX()

    class Handler(BaseHTTPRequestHandler):
        def _do(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = state.handle(self.command, self.path, self.headers, body)
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _do

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()
    server.server_close()


def _decision() -> Any:
    from datetime import UTC, date, datetime

    from creditguard.models import (
        AppliedMeasure,
        CreditRecord,
        Decision,
        EffectiveRecord,
        LegalBasis,
    )

    rec = CreditRecord.model_validate(
        {
            "record_id": "PX-9",
            "list_kind": "blacklist",
            "domain": "tax",
            "listed_on": "2025-01-02",
            "status": "listed",
            "region": "320100",
        }
    )
    measure = AppliedMeasure(
        code="S-01",
        title="measure S-01",
        effect="deny",
        category="rights_limiting",
        legal_basis=(LegalBasis(title="《中华人民共和国政府采购法》", article="第二十二条"),),
        record_ids=("PX-9",),
    )
    return Decision(
        decision_id="D-PX-1",
        subject_code=ORG_BLACK,
        subject_kind="organization",
        step="procurement.bid",
        region="320100",
        as_of=date(2026, 3, 2),
        outcome="deny",
        records=(EffectiveRecord(record=rec, source="provx", subject_code=ORG_BLACK),),
        measures=(measure,),
        decided_at=datetime(2026, 3, 2, 1, 15, tzinfo=UTC),
    )


def config(url: str, tmp_path: Path) -> Any:
    return config_from_dict(
        {
            "guard": {"unit_code": UNIT, "data_dir": str(tmp_path)},
            "sources": [
                {
                    "name": "provx",
                    "type": "provx",
                    "base_url": url,
                    "key_id": KEY,
                    "secret_env": "CG_TEST_PROVX_SECRET",
                }
            ],
        }
    )


@pytest.fixture
def channel(provx: tuple[ProvX, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CG_TEST_PROVX_SECRET", SECRET)
    pm = build_plugin_manager([plugin], load_entrypoints=False)
    built = open_channel(config(provx[1], tmp_path), pm)
    assert isinstance(built, ProvXChannel)
    return built


@pytest.mark.integration
def test_cases_are_delivered_through_the_example_channel(
    provx: tuple[ProvX, str], channel: Any, tmp_path: Path
) -> None:
    # The hook this test proves: creditguard_register_channels contributes the channel.
    state, _ = provx
    outbox = SqliteOutbox(tmp_path / "outbox.db")
    decision = _decision()
    CaseRecorder(outbox, UNIT).record_step(decision, workflow_ref="NJCG-1")
    d = Deliverer(outbox, channel, backoff=Backoff(base_s=0.01, max_s=0.02), timeout_s=2, lease_s=5)
    try:
        attempts = d.deliver_due()
    finally:
        d.close()
    assert {a.result for a in attempts} == {"delivered"}
    assert state.order[0] == "case-open" and set(state.order[1:]) == {"case-result"}
    result = next(r for r in state.reports.values() if r["kind"] == "case-result")
    assert result["data"]["bizNo"] == "NJCG-1" and result["data"]["result"] == "denied"
    assert outbox.status(now=time.time()).pending == 0


@pytest.mark.integration
def test_the_change_feed_reaches_the_mirror(
    provx: tuple[ProvX, str], channel: Any, tmp_path: Path
) -> None:
    state, _ = provx
    listing = {
        "record_id": "PX-1",
        "list_kind": "blacklist",
        "domain": "tax",
        "listed_on": "2025-01-02",
        "status": "listed",
        "region": "320100",
    }
    state.changes = [
        {"seq": 1, "kind": "ADD", "creditCode": ORG_BLACK, "listing": listing},
        {"seq": 2, "kind": "RENAME", "creditCode": ORG_BLACK},
    ]
    mirror = SqliteMirror(tmp_path / "mirror.db")
    feed = PushFeed(mirror, FeedState(tmp_path / "state.db"), channel=channel)
    with httpx.Client(timeout=5) as client:
        report = feed.pull(client)
        again = feed.pull(client)
    assert (report.applied, report.unknown, report.cursor) == (1, 1, "2")
    assert again.applied == 0
    assert [r.record_id for r in mirror.lookup([ORG_BLACK])[ORG_BLACK].records] == ["PX-1"]


def test_the_webhook_verifies_example_pushes(channel: Any, tmp_path: Path) -> None:
    store = FeedState(tmp_path / "state.db")
    body = json.dumps(
        {"seq": 7, "kind": "DROP", "creditCode": ORG_BLACK, "listingId": "PX-1"}
    ).encode()
    when = str(int(time.time()))
    good = {
        "Authorization": f"PX-HMAC {KEY}:{px_signature(SECRET, 'POST', '/hook', when, body)}",
        "X-PX-Time": when,
    }
    forged = {
        **good,
        "Authorization": f"PX-HMAC {KEY}:{px_signature('guess', 'POST', '/hook', when, body)}",
    }
    assert (
        receive(forged, body, method="POST", path="/hook", channel=channel, store=store)[0] == 401
    )
    status, answer = receive(good, body, method="POST", path="/hook", channel=channel, store=store)
    assert status == 200 and json.loads(answer)["event_id"] == "px-7"
    assert receive(good, body, method="POST", path="/hook", channel=channel, store=store)[0] == 401
    (event,) = store.stored_events()
    assert (event.type, event.record_id, event.subject_code) == (
        "record.removed",
        "PX-1",
        ORG_BLACK,
    )


def test_core_names_no_platform_wire_format_or_option() -> None:
    # The platform's wire format lives in its adapter; core knows facts and channels.
    core = ROOT / "src" / "creditguard"
    modules = [
        *sorted((core / "cases").glob("*.py")),
        # _upgrade.py reads the rows creditguard 0.1 stored (its requests, frozen history):
        # it converts them to facts when the outbox opens and never builds a request.
        *sorted(p for p in (core / "outbox").glob("*.py") if p.name != "_upgrade.py"),
        core / "channels.py",
        core / "push_feed.py",
        core / "case_desk.py",
        core / "webhook.py",
        core / "cli" / "sync_cmd.py",
        core / "cli" / "outbox_cmd.py",
    ]
    pattern = re.compile(
        r"/v1/|X-CG-|base_url|app_key|secret_env|Idempotency-Key:|hashlib\.sha256\(body"
    )
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in modules
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
