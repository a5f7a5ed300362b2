"""``creditguard sync --config`` and ``creditguard outbox --config`` over a loopback platform."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import creditguard_platform.plugin as platform_plugin
import pytest
from click.testing import CliRunner
from workflow_helpers import DENY, NOTE, ORG_BLACK, ORG_FOCUS, REGION, UNIT, measure_list, uscc

from creditguard.case_desk import open_case_desk, outbox_target
from creditguard.cases import SqliteCaseBook
from creditguard.cli import main
from creditguard.config import load_config
from creditguard.guard import Guard
from creditguard.mirror import SqliteMirror
from creditguard.outbox import OutboxItem, SqliteOutbox
from creditguard.push_feed import FeedState
from creditguard.testing import (
    DEFAULT_APP_KEY,
    DEFAULT_SECRET,
    Fault,
    ReferencePlatform,
    RunningServer,
)

ORG_NEW = uscc("MA25FGHJ")
SECRET_ENV = "WF_SYNC_SECRET"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def write_config(folder: Path, url: str, *, extra: str = "", mirror: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = f'''
[guard]
unit_code = "{UNIT}"
data_dir = "var"

[measures]
packs = false

[journal]
enabled = false
{extra}
'''
    if mirror:
        text += '\n[[sources]]\nname = "local"\ntype = "mirror"\npath = "db/mirror.db"\n'
    text += f'''
[[sources]]
name = "jiangsu"
type = "platform"
base_url = "{url}"
app_key = "{DEFAULT_APP_KEY}"
secret_env = "{SECRET_ENV}"
'''
    path = folder / "creditguard.toml"
    path.write_text(text, encoding="utf-8")
    return path


ENV = {SECRET_ENV: DEFAULT_SECRET, "CREDITGUARD_CONFIG": ""}


@pytest.fixture
def feed(platform: ReferencePlatform) -> dict[str, str]:
    """Push events of every kind: added, updated, removed, a platform case and an unknown type."""
    kept = platform.add_record(ORG_NEW, list_kind="blacklist", push=True)
    gone = platform.add_record(ORG_FOCUS, list_kind="focus", push=True)
    platform.update_record(kept["record_id"], status="rectifying", push=True)
    platform.remove_record(gone["record_id"], push=True)
    case = platform.initiate_case(ORG_BLACK, [DENY, "XX-01"], region=REGION)
    platform.push_event("subject.renamed", subject_code=ORG_NEW)
    return {"kept": kept["record_id"], "gone": gone["record_id"], "case": case["case_id"]}


@pytest.mark.integration
def test_sync_with_a_config_applies_each_event_once(
    tmp_path: Path,
    server: RunningServer,
    platform: ReferencePlatform,
    feed: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg_file = write_config(tmp_path / "app", server.url)
    code, out, err = run("sync", "--config", str(cfg_file), "--implements", DENY, "--json", env=ENV)
    assert code == 0, err
    report = json.loads(out)
    assert (report["applied"], report["unknown"], report["rejected"]) == (5, 1, 0)
    assert report["by_type"] == {
        "record.added": 2,
        "record.updated": 1,
        "record.removed": 1,
        "case.initiated": 1,
        "unknown": 1,
    }
    assert report["cursor"] == "c-000006"
    assert DEFAULT_SECRET not in out + err

    cfg = load_config(cfg_file)
    var = tmp_path / "app" / "var"
    mirror = SqliteMirror(tmp_path / "app" / "db" / "mirror.db")  # the config's mirror path
    (held,) = mirror.lookup([ORG_NEW])[ORG_NEW].records
    assert (held.record_id, held.status) == (feed["kept"], "rectifying")
    # The removed record stays as a tombstone without effect (replays stay exact).
    assert [r.status for r in mirror.lookup([ORG_FOCUS])[ORG_FOCUS].records] == ["removed"]
    assert FeedState(var / "sync-state.db").cursor() == "c-000006"
    assert FeedState(var / "sync-state.db").counters()["unknown"] == 1
    (open_case,) = SqliteCaseBook(var / "platform-cases.db").open_for(ORG_BLACK)
    assert (open_case.case_id, open_case.accepted) == (feed["case"], (DENY,))
    box = SqliteOutbox(outbox_target(cfg))
    assert Path(outbox_target(cfg)) == var / "outbox.db"
    assert box.status(now=time.time()).by_kind == {"response": 1}
    box.close()

    code, out, _ = run("sync", "--config", str(cfg_file), "--json", env=ENV)
    again = json.loads(out)
    assert code == 0 and (again["applied"], again["cursor"]) == (0, "c-000006")
    platform.add_record(ORG_NEW, list_kind="focus", push=True)
    code, out, _ = run("sync", "--config", str(cfg_file), env=ENV)
    assert code == 0 and out.startswith("applied 1, duplicates 0, unknown 0") and "c-000007" in out

    # A guard on the same configuration feeds the accepted measure back to the platform's case.
    monkeypatch.setenv(SECRET_ENV, DEFAULT_SECRET)
    g = Guard(
        cfg, measure_lists=[measure_list()], plugins=[platform_plugin], load_entrypoints=False
    )
    try:
        d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
        g.feedback(d, workflow_ref="NJCG-1")
    finally:
        g.close()
    (response,) = platform.responses
    assert response["accepted_measures"] == [DENY]
    assert [x["code"] for x in response["declined_measures"]] == ["XX-01"]
    by_measure = {f["measure_code"]: f["case_id"] for f in platform.feedback}
    assert by_measure[DENY] == feed["case"]
    assert by_measure[NOTE] == f"{UNIT}-{d.decision_id}"
    assert SqliteCaseBook(var / "platform-cases.db").open_for(ORG_BLACK) == []


@pytest.mark.integration
def test_sync_options_override_the_config(
    tmp_path: Path, server: RunningServer, platform: ReferencePlatform, feed: dict[str, str]
) -> None:
    cfg_file = write_config(tmp_path / "app", server.url)
    other = tmp_path / "elsewhere" / "m.db"
    state = tmp_path / "elsewhere" / "s.db"
    code, out, err = run(
        "sync",
        "--config",
        str(cfg_file),
        "--mirror",
        str(other),
        "--state",
        str(state),
        "--outbox",
        str(tmp_path / "o.db"),
        "--unit-code",
        "320100-XX",
        "--limit",
        "2",
        "--json",
        env=ENV,
    )
    assert code == 0, err
    assert json.loads(out)["pages"] >= 3
    assert len(SqliteMirror(other).lookup([ORG_NEW])[ORG_NEW].records) == 1
    assert not (tmp_path / "app" / "db" / "mirror.db").exists()
    assert FeedState(state).cursor() == "c-000006"
    assert SqliteOutbox(tmp_path / "o.db").status(now=0).by_kind == {"response": 1}
    assert not (tmp_path / "app" / "var" / "outbox.db").exists()


@pytest.mark.integration
def test_sync_reads_the_config_from_the_environment(
    tmp_path: Path, server: RunningServer, feed: dict[str, str]
) -> None:
    cfg_file = write_config(tmp_path / "app", server.url)
    code, out, err = run("sync", "--json", env={**ENV, "CREDITGUARD_CONFIG": str(cfg_file)})
    assert code == 0, err
    assert json.loads(out)["applied"] == 5
    assert (tmp_path / "app" / "var" / "sync-state.db").exists()


@pytest.mark.integration
def test_sync_exit_codes(
    tmp_path: Path, server: RunningServer, platform: ReferencePlatform, feed: dict[str, str]
) -> None:
    cfg_file = write_config(tmp_path / "app", server.url)
    code, _, err = run("sync", "--config", str(cfg_file), env={"CREDITGUARD_CONFIG": ""})
    assert code == 2 and SECRET_ENV in err and "not set or empty" in err
    code, _, err = run("sync", "--config", str(tmp_path / "missing.toml"), env=ENV)
    assert code == 2 and "does not exist" in err
    no_mirror = write_config(tmp_path / "nomirror", server.url, mirror=False)
    code, _, err = run("sync", "--config", str(no_mirror), env=ENV)
    assert code == 2 and "mirror" in err
    bad_platform = write_config(tmp_path / "bad", server.url, extra='[outbox]\nplatform = "nope"\n')
    code, _, err = run("sync", "--config", str(bad_platform), env=ENV)
    assert code == 2 and "nope" in err
    code, _, err = run("sync", "--mirror", str(tmp_path / "m.db"), env=ENV)
    assert code == 2
    with platform.inject(Fault.status(503, path="/v1/pushes")):
        code, _, err = run("sync", "--config", str(cfg_file), env=ENV)
    assert code == 1 and "unavailable" in err.lower()
    assert not (tmp_path / "app" / "var" / "sync-state.db").exists() or (
        FeedState(tmp_path / "app" / "var" / "sync-state.db").cursor() is None
    )
    code, _, err = run("sync", "--config", str(cfg_file), env=ENV)
    assert code == 0, err


# --- creditguard outbox --config ---------------------------------------------------------


def _item(key: str) -> OutboxItem:
    return OutboxItem(key=key, kind="case", payload=b"{}")


@pytest.mark.parametrize(
    ("setting", "where"),
    [
        ("[outbox]\ndeliver = false\n", "var/outbox.db"),
        ('[outbox]\npath = "queues/box.db"\ndeliver = false\n', "queues/box.db"),
    ],
)
def test_outbox_command_opens_the_guards_outbox(tmp_path: Path, setting: str, where: str) -> None:
    cfg_file = write_config(tmp_path / "app", "http://127.0.0.1:9/api", extra=setting)
    cfg = load_config(cfg_file)
    desk = open_case_desk(cfg)
    assert desk is not None
    desk.outbox.enqueue(_item("k-1"))
    desk.close()
    assert (tmp_path / "app" / where).exists()
    code, out, err = run("outbox", "status", "--config", str(cfg_file), "--json", env=ENV)
    assert code == 0, err
    assert json.loads(out)["pending"] == 1


def test_outbox_command_uses_a_postgres_dsn_from_the_config(tmp_path: Path) -> None:
    dsn = "postgresql://creditguard:pw-not-shown@127.0.0.1:9/outbox"
    cfg_file = write_config(
        tmp_path / "app", "http://127.0.0.1:9/api", extra=f'[outbox]\npath = "{dsn}"\n'
    )
    assert outbox_target(load_config(cfg_file)) == dsn
    code, out, err = run("outbox", "status", "--config", str(cfg_file), env=ENV)
    assert code == 1
    assert "no outbox at" not in err, "a DSN is not a file"
    assert "PostgreSQL" in err and "pw-not-shown" not in out + err


@pytest.mark.postgres
def test_outbox_command_on_a_real_postgres(tmp_path: Path) -> None:
    dsn = os.environ.get("CREDITGUARD_TEST_PG_DSN")
    if not dsn:
        pytest.skip("CREDITGUARD_TEST_PG_DSN is not set (source .ci/postgres.sh)")
    import psycopg

    extra = f'[outbox]\npath = "{dsn}"\ndeliver = false\n'
    cfg_file = write_config(tmp_path / "app", "http://127.0.0.1:9/api", extra=extra)
    desk = open_case_desk(load_config(cfg_file))
    assert desk is not None
    key = f"wf-pg-{time.time_ns()}"
    try:
        before = desk.outbox.status(now=time.time()).pending
        desk.outbox.enqueue(_item(key))
        code, out, err = run("outbox", "status", "--config", str(cfg_file), "--json", env=ENV)
        assert code == 0, err
        assert json.loads(out)["pending"] == before + 1
    finally:
        desk.close()
        with psycopg.connect(dsn, autocommit=True) as conn:  # leave the shared database as found
            conn.execute("DELETE FROM creditguard_outbox WHERE idem_key = %s", (key,))


@pytest.mark.integration
def test_sync_takes_the_measures_this_unit_implements_from_the_config(
    tmp_path: Path, server: RunningServer, platform: ReferencePlatform
) -> None:
    case = platform.initiate_case(ORG_BLACK, [DENY, "XX-01"], region=REGION)
    cfg_file = write_config(
        tmp_path / "app", server.url, extra=f'[outbox]\nimplements = ["{DENY}"]\n'
    )
    code, _out, err = run("sync", "--config", str(cfg_file), "--json", env=ENV)
    assert code == 0, err
    (open_case,) = SqliteCaseBook(tmp_path / "app" / "var" / "platform-cases.db").open_for(
        ORG_BLACK
    )
    assert (open_case.case_id, open_case.accepted) == (case["case_id"], (DENY,))
