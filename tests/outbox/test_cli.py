"""``creditguard outbox ...`` and ``creditguard sync``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from outbox_helpers import ORG, UNIT, make_decision

from creditguard.cases import CaseRecorder
from creditguard.cli import main
from creditguard.mirror import SqliteMirror
from creditguard.outbox import OutboxItem, SqliteOutbox
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET, Fault, ReferencePlatform, serve


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_status_dead_retry(tmp_path: Path) -> None:
    path = str(tmp_path / "o.db")
    box = SqliteOutbox(path)
    CaseRecorder(box, UNIT).record_step(make_decision(("S-01", "deny")))
    box.enqueue(OutboxItem(key="bad", kind="case", payload=b"{}"))
    (c,) = [x for x in box.claim("w", now=9e9, lease_s=1, limit=5) if x.item.key == "bad"] or [None]
    assert c is not None
    box.mark_dead(
        c.id, "w", now=9e9, status=400, error="HTTP 400 INVALID_ARGUMENT: case_id is missing"
    )
    code, out = run("outbox", "status", "--path", path, "--json")
    st = json.loads(out)
    assert (
        code == 0
        and st["pending"] == 2
        and st["dead"] == 1
        and st["pending_by_kind"] == {"case": 1, "feedback": 1}
    )
    code, out = run("outbox", "status", "--path", path)
    assert code == 0 and "pending 2" in out and "dead 1" in out
    code, out = run("outbox", "dead", "--path", path)
    assert code == 0 and "case_id is missing" in out
    code, out = run("outbox", "dead", "--path", path, "--json")
    assert json.loads(out)["items"][0]["last_status"] == 400
    assert run("outbox", "retry", "--path", path)[0] == 2
    code, out = run("outbox", "retry", "--all", "--path", path, "--json")
    assert code == 0 and json.loads(out) == {"schema_version": 1, "requeued": 1}


def write_config(tmp_path: Path, url: str, *, extra: str = "") -> Path:
    """A configuration naming the platform; its secret in CG_TEST_PLATFORM_SECRET."""
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text(
        f"""[guard]
unit_code = "{UNIT}"
data_dir = "var"

[[sources]]
name = "platform"
type = "platform"
base_url = "{url}"
app_key = "{DEFAULT_APP_KEY}"
secret_env = "CG_TEST_PLATFORM_SECRET"

[outbox]
path = "o.db"
deliver = false
{extra}
""",
        encoding="utf-8",
    )
    return cfg


@pytest.mark.integration
def test_flush_delivers_with_the_configured_platform(tmp_path: Path) -> None:
    platform = ReferencePlatform()
    with serve(platform) as server:
        cfg = write_config(tmp_path, server.url)
        CaseRecorder(SqliteOutbox(tmp_path / "o.db"), UNIT).record_step(
            make_decision(("S-01", "deny"))
        )
        code, out = run(
            "outbox",
            "flush",
            "--config",
            str(cfg),
            "--json",
            env={"CG_TEST_PLATFORM_SECRET": DEFAULT_SECRET, "CREDITGUARD_SECRET": "wrong"},
        )
    assert code == 0, out
    assert json.loads(out)["delivered"] == 2 and json.loads(out)["pending"] == 0
    assert len(platform.feedback) == 1
    assert DEFAULT_SECRET not in out


@pytest.mark.integration
def test_flush_exits_non_zero_while_items_remain(tmp_path: Path) -> None:
    platform = ReferencePlatform()
    platform.inject(Fault.status(503, times=100))
    with serve(platform) as server:
        cfg = write_config(tmp_path, server.url)
        CaseRecorder(SqliteOutbox(tmp_path / "o.db"), UNIT).record_step(
            make_decision(("S-01", "deny"))
        )
        code, out = run(
            "outbox",
            "flush",
            "--config",
            str(cfg),
            "--json",
            env={"CG_TEST_PLATFORM_SECRET": DEFAULT_SECRET},
        )
    assert code == 1, out
    counts = json.loads(out)
    assert counts["retry"] == 1 and counts["pending"] == 2 and counts["delivered"] == 0


def test_flush_reports_items_locked_by_a_lease(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "http://127.0.0.1:9", extra="lease_s = 600")
    box = SqliteOutbox(tmp_path / "o.db")
    CaseRecorder(box, UNIT).record_step(make_decision(("S-01", "deny")))
    import time

    # A deliverer that was killed mid-delivery: its claim holds the initiation for lease_s.
    assert len(box.claim("killed-host:1:x", now=time.time(), lease_s=600, limit=1)) == 1
    code, out = run(
        "outbox",
        "flush",
        "--config",
        str(cfg),
        "--json",
        env={"CG_TEST_PLATFORM_SECRET": DEFAULT_SECRET},
    )
    counts = json.loads(out)
    assert code == 1 and counts["locked"] == 1 and counts["pending"] == 2, out
    code, out = run(
        "outbox", "flush", "--config", str(cfg), env={"CG_TEST_PLATFORM_SECRET": DEFAULT_SECRET}
    )
    assert code == 1 and "locked by another deliverer's lease" in out


def test_flush_refuses_without_the_secret_the_config_names(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "http://127.0.0.1:9")
    SqliteOutbox(tmp_path / "o.db")
    code, out = run(
        "outbox",
        "flush",
        "--config",
        str(cfg),
        env={"CG_TEST_PLATFORM_SECRET": "", "CREDITGUARD_SECRET": DEFAULT_SECRET},
    )
    assert code == 2 and "CG_TEST_PLATFORM_SECRET" in out
    code, out = run("outbox", "flush", "--config", str(cfg), "--due-only", "--json")
    assert code == 0 and json.loads(out)["made_due"] == 0


def test_missing_outbox_is_reported(tmp_path: Path) -> None:
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text('[guard]\nunit_code = "320100-CG"\ndata_dir = "var"\n')
    code, out = run("outbox", "status", "--config", str(cfg))
    assert code == 1 and "no outbox" in out


@pytest.mark.integration
def test_sync_command(tmp_path: Path) -> None:
    platform = ReferencePlatform()
    platform.add_record(ORG, push=True)
    platform.push_event("mystery.event")
    platform.initiate_case(ORG, ["S-01"])
    mirror = tmp_path / "mirror.db"
    with serve(platform) as server:
        cfg = write_config(tmp_path, server.url)
        args = [
            "sync",
            "--config",
            str(cfg),
            "--mirror",
            str(mirror),
            "--implements",
            "S-01",
            "--json",
        ]
        env = {"CG_TEST_PLATFORM_SECRET": DEFAULT_SECRET}
        code, out = run(*args, env=env)
        assert code == 0, out
        report = json.loads(out)
        assert (report["applied"], report["unknown"], report["cursor"]) == (2, 1, "c-000003")
        code, out = run(*args, env=env)
        assert json.loads(out)["applied"] == 0
    assert len(SqliteMirror(mirror).lookup([ORG])[ORG].records) == 1
    assert SqliteOutbox(tmp_path / "o.db").status(now=0).by_kind == {"response": 1}
    code, out = run(*args, env={"CG_TEST_PLATFORM_SECRET": ""})
    assert code == 2 and "CG_TEST_PLATFORM_SECRET" in out
