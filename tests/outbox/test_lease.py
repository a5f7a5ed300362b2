"""The lease: a killed claimer's item is held until the lease ends, then delivered by another."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from outbox_helpers import UNIT, loopback_deliverer, make_decision

from creditguard.case_desk import open_case_desk
from creditguard.cases import CaseRecorder
from creditguard.cli import main
from creditguard.config import config_from_dict
from creditguard.outbox import SqliteOutbox
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET, ReferencePlatform, serve

pytestmark = pytest.mark.integration

LEASE_S = 1.5


def test_a_killed_claimers_item_is_redelivered_after_the_lease(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    box = SqliteOutbox(path)
    case_id = CaseRecorder(box, UNIT).initiate(make_decision(("S-01", "deny")))
    platform = ReferencePlatform()
    with serve(platform) as server:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child claims, says so and waits to be killed
            os.close(r)
            child = SqliteOutbox(path)
            claimed = child.claim("doomed:1:x", now=time.time(), lease_s=LEASE_S, limit=1)
            os.write(w, b"C" if claimed else b"-")
            time.sleep(30)
            os._exit(3)
        os.close(w)
        assert os.read(r, 1) == b"C"
        claimed_at = time.time()
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
        # Within the lease nobody else may send it; status and flush show it as leased.
        d = loopback_deliverer(box, server.url, timeout_s=1.0, lease_s=LEASE_S)
        assert d.deliver_due() == []
        out = CliRunner().invoke(main, ["outbox", "status", "--path", str(path), "--json"]).output
        assert json.loads(out)["in_flight"] == 1
        out = CliRunner().invoke(main, ["outbox", "status", "--path", str(path)]).output
        assert "leased 1" in out and "killed deliverer" in out
        # After the lease it is delivered, once, by the survivor.
        while time.time() < claimed_at + LEASE_S + 0.05:
            time.sleep(0.05)
        attempts = d.deliver_due()
        d.close()
    assert [a.result for a in attempts] == ["delivered"]
    assert list(platform.cases) == [case_id]
    assert box.status(now=time.time()).pending == 0


def test_the_configured_lease_reaches_the_guards_deliverer(tmp_path: Path) -> None:
    cfg = config_from_dict(
        {
            "guard": {"data_dir": str(tmp_path), "unit_code": UNIT},
            "sources": [
                {
                    "name": "jiangsu",
                    "type": "platform",
                    "base_url": "http://127.0.0.1:9",
                    "app_key": DEFAULT_APP_KEY,
                    "secret": DEFAULT_SECRET,
                }
            ],
            "outbox": {"lease_s": 45, "feedback_due_s": 600},
        }
    )
    desk = open_case_desk(cfg)
    assert desk is not None and desk.worker is not None
    try:
        assert desk.worker.deliverer.lease_s == 45
        assert desk.feedback_due_s == 600
    finally:
        desk.close()
