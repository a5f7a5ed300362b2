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
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET, ReferencePlatform, serve


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_status_dead_retry(tmp_path: Path) -> None:
    path = str(tmp_path / "o.db")
    box = SqliteOutbox(path)
    CaseRecorder(box, UNIT).record_step(make_decision(("S-01", "deny")))
    box.enqueue(OutboxItem(key="bad", kind="case", path="/v1/cases", body=b"{}"))
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


@pytest.mark.integration
def test_flush_delivers_to_a_platform(tmp_path: Path) -> None:
    path = str(tmp_path / "o.db")
    CaseRecorder(SqliteOutbox(path), UNIT).record_step(make_decision(("S-01", "deny")))
    platform = ReferencePlatform()
    with serve(platform) as server:
        code, out = run(
            "outbox",
            "flush",
            "--path",
            path,
            "--base-url",
            server.url,
            "--app-key",
            DEFAULT_APP_KEY,
            "--json",
            env={"CREDITGUARD_SECRET": DEFAULT_SECRET},
        )
    assert code == 0, out
    assert json.loads(out)["delivered"] == 2 and json.loads(out)["pending"] == 0
    assert len(platform.feedback) == 1
    assert DEFAULT_SECRET not in out


def test_flush_without_credentials_only_makes_due(tmp_path: Path) -> None:
    path = str(tmp_path / "o.db")
    SqliteOutbox(path)
    code, out = run("outbox", "flush", "--path", path, "--json")
    assert code == 0 and json.loads(out)["made_due"] == 0
    code, out = run(
        "outbox",
        "flush",
        "--path",
        path,
        "--base-url",
        "http://127.0.0.1:9",
        env={"CREDITGUARD_SECRET": ""},
    )
    assert code == 2


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
        args = [
            "sync",
            "--base-url",
            server.url,
            "--app-key",
            DEFAULT_APP_KEY,
            "--mirror",
            str(mirror),
            "--outbox",
            str(tmp_path / "o.db"),
            "--unit-code",
            UNIT,
            "--implements",
            "S-01",
            "--json",
        ]
        code, out = run(*args, env={"CREDITGUARD_SECRET": DEFAULT_SECRET})
        assert code == 0, out
        report = json.loads(out)
        assert (report["applied"], report["unknown"], report["cursor"]) == (2, 1, "c-000003")
        code, out = run(*args, env={"CREDITGUARD_SECRET": DEFAULT_SECRET})
        assert json.loads(out)["applied"] == 0
    assert len(SqliteMirror(mirror).lookup([ORG])[ORG].records) == 1
    assert SqliteOutbox(tmp_path / "o.db").status(now=0).by_kind == {"response": 1}
    assert (
        run(
            "sync",
            "--base-url",
            "x",
            "--app-key",
            "k",
            "--mirror",
            str(mirror),
            env={"CREDITGUARD_SECRET": ""},
        )[0]
        == 2
    )
