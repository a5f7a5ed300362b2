"""The supervision store in PostgreSQL: chosen by configuration, shared by processes, read by the CLI.

The lifecycle's rules on both stores are tested by test_lifecycle_scenario.py
(every test there runs over SQLite and over PostgreSQL). Here: which store a
configuration opens, that two connections recording for one listing keep
once-per-listing rules, and ``creditguard history`` / ``report`` over a
PostgreSQL store beside a PostgreSQL outbox. Each PostgreSQL test has a
schema of its own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from creditguard.cli import main
from creditguard.clock import CST
from creditguard.config import Config, config_from_dict
from creditguard.masking import unmasked_numbers
from creditguard.models import CreditRecord
from creditguard.outbox import SqliteOutbox
from creditguard.supervision import (
    Lifecycle,
    RuleBroken,
    SqliteSupervisionStore,
    SupervisionStore,
    supervision_store_path,
)
from creditguard.supervision.store_pg import PostgresSupervisionStore

ORG = "91320100MA1W2K7D41"
AUTH = "320100-SJ"
RID = "JS-2026-000123"
RECORD = {
    "record_id": RID,
    "list_kind": "blacklist",
    "domain": "market_regulation",
    "authority": {"code": AUTH, "name": "南京市市场监督管理局"},
    "listed_on": "2026-01-05",
    "status": "listed",
    "region": "320100",
}
ADOPT = {"rules": {"320100": [{"pack": "notice-893-2018", "from": date(2021, 1, 1)}]}}
SECRET_DSN = "postgresql://cg:s3cr3t-pw@db.example:5432/cg"


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=CST)


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    from core._pgmirror import pg_schema_dsn

    with pg_schema_dsn() as dsn:
        yield dsn


def test_the_store_follows_supervision_path_else_a_postgresql_outbox(tmp_path: Path) -> None:
    def config(**raw: Any) -> Config:
        return config_from_dict({"guard": {"data_dir": "var"}, **raw}, base_dir=tmp_path)

    assert supervision_store_path(config()) == str(tmp_path / "var/supervision.db")
    on_pg = config(outbox={"path": SECRET_DSN})
    assert supervision_store_path(on_pg) == SECRET_DSN  # where the outbox runs
    named = config(outbox={"path": SECRET_DSN}, supervision={"path": "sv.db"})
    assert supervision_store_path(named) == str(tmp_path / "sv.db")  # a file, resolved
    own = config(supervision={"path": SECRET_DSN})
    assert supervision_store_path(own) == SECRET_DSN  # a DSN is not a relative file name
    assert isinstance(SupervisionStore(tmp_path / "x.db"), SqliteSupervisionStore)


def test_an_unreachable_database_is_a_storage_error_without_the_password() -> None:
    from creditguard.errors import StorageError

    pytest.importorskip("psycopg")
    with pytest.raises(StorageError) as info:
        SupervisionStore("postgresql://cg:s3cr3t-pw@127.0.0.1:1/cg?connect_timeout=1")
    assert "s3cr3t-pw" not in str(info.value) and "PostgreSQL supervision store" in str(info.value)


def _lifecycle(target: str, outbox: Path) -> Lifecycle:
    cfg = config_from_dict({"supervision": ADOPT}).supervision
    return Lifecycle(
        SupervisionStore(target), SqliteOutbox(str(outbox)), unit_code=AUTH, config=cfg
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "supervision.db")
        return
    from core._pgmirror import pg_schema_dsn

    with pg_schema_dsn() as dsn:
        yield dsn


def test_two_connections_cannot_both_hold_the_one_interview(
    store_target: str, tmp_path: Path
) -> None:
    first = _lifecycle(store_target, tmp_path / "outbox-a.db")
    second = _lifecycle(store_target, tmp_path / "outbox-b.db")  # its own connection
    first.register(ORG, CreditRecord.model_validate(RECORD))
    first.order_rectification(
        RID, requirements="补缴", deadline=date(2026, 3, 16), public=True, at=at("2026-03-02")
    )
    principal = {"name": "张三", "role": "responsible_person"}
    outcome: dict[str, BaseException | None] = {}

    def second_interview() -> None:
        try:
            second.hold_interview(RID, kind="warning", attendee=principal, at=at("2026-03-17", 11))
            outcome["second"] = None
        except BaseException as exc:  # reported to the test thread
            outcome["second"] = exc

    # The first process holds the listing while the second asks for the same interview:
    # the second waits, then sees the first's interview and is refused.
    with first.store.listing_lock(RID):
        worker = threading.Thread(target=second_interview)
        worker.start()
        worker.join(0.5)
        first.hold_interview(RID, kind="warning", attendee=principal, at=at("2026-03-17"))
    worker.join(30)
    assert not worker.is_alive()
    refused = outcome["second"]
    assert isinstance(refused, RuleBroken) and refused.rule == "interview.once_per_listing"
    types = [ev.type for ev, _, _ in second.store.events(record_id=RID)]
    assert types == ["rectification.ordered", "rectification.overdue", "interview.held"]
    # The overdue mark is shared once, by the step that stored it; nothing of the refused one.
    assert first.outbox.status(now=0).pending == 3
    assert second.outbox.status(now=0).pending == 0
    first.close()
    second.close()


def test_a_refused_step_leaves_nothing_stored_or_queued(store_target: str, tmp_path: Path) -> None:
    lc = _lifecycle(store_target, tmp_path / "outbox.db")
    lc.register(ORG, CreditRecord.model_validate(RECORD))
    lc.order_rectification(
        RID, requirements="补缴", deadline=date(2026, 3, 16), public=True, at=at("2026-03-02")
    )
    with pytest.raises(RuleBroken) as info:
        lc.hold_interview(
            RID,
            kind="warning",
            attendee={"name": "李四", "role": "related_person"},
            at=at("2026-03-17"),
        )
    assert info.value.rule == "interview.principal_responsible_person"
    # The overdue mark the interview's checks made is undone with it (and never queued).
    assert [ev.type for ev, _, _ in lc.store.events()] == ["rectification.ordered"]
    assert lc.outbox.status(now=0).pending == 1
    assert [ev.type for ev in lc.mark_overdue(at=at("2026-03-17"))] == ["rectification.overdue"]
    assert lc.outbox.status(now=0).pending == 2
    lc.close()


@pytest.mark.postgres
def test_history_and_report_read_the_postgresql_store_beside_a_postgresql_outbox(
    pg_dsn: str, tmp_path: Path
) -> None:
    (tmp_path / "creditguard.toml").write_text(
        f'[guard]\nunit_code = "{AUTH}"\ndata_dir = "var"\n\n[outbox]\npath = "{pg_dsn}"\n\n'
        '[supervision]\nrules = { "320100" = [{ pack = "notice-893-2018", from = 2021-01-01 }] }\n',
        encoding="utf-8",
    )
    (tmp_path / "record.json").write_text(json.dumps(RECORD), encoding="utf-8")
    runner, cfg = CliRunner(), ["--config", str(tmp_path / "creditguard.toml")]

    def run(*args: str) -> tuple[int, str]:
        r = runner.invoke(main, [*args, *cfg])
        return r.exit_code, r.output

    assert run("lifecycle", "register", ORG, "--record-file", str(tmp_path / "record.json"))[0] == 0
    code, out = run(
        "lifecycle", "order", "--record", RID, "--requirements", "补缴",
        "--deadline", "2026-03-16", "--at", "2026-03-02T10:00:00+08:00",
    )  # fmt: skip
    assert code == 0, out
    code, out = run(
        "lifecycle", "interview", "--record", RID, "--kind", "warning", "--name", "张三",
        "--role", "responsible_person", "--at", "2026-03-17T10:00:00+08:00",
    )  # fmt: skip
    assert code == 0, out
    assert not (tmp_path / "var" / "supervision.db").exists()  # nothing embedded: PostgreSQL
    code, out = run("history", ORG)
    assert code == 0 and "interview.held" in out and "张*" in out and "张三" not in out
    assert unmasked_numbers(out) == [] and "s3cr3t" not in out
    code, out = run("history", ORG, "--json")
    assert [e["type"] for e in json.loads(out)["events"]] == [
        "rectification.ordered",
        "rectification.overdue",
        "interview.held",
    ]
    code, out = run("report", "--from", "2026-03-01", "--to", "2026-03-31", "--json")
    assert code == 0, out
    figures = json.loads(out)["regions"]["320100"]
    assert figures["interviews"]["warning"] == 1 and figures["rectifications"]["overdue"] == 1
    assert json.loads(out)["outbox"]["pending"] == 3  # the PostgreSQL outbox
    store = SupervisionStore(pg_dsn)
    assert isinstance(store, PostgresSupervisionStore) and "<dsn hidden>" in repr(store)
    assert len(store.events(subject_code=ORG)) == 3
    store.close()


@pytest.mark.postgres
def test_the_supervision_source_reads_persons_named_in_postgresql(
    pg_dsn: str, tmp_path: Path
) -> None:
    from creditguard.supervision.source import supervision_source

    lc = _lifecycle(pg_dsn, tmp_path / "outbox.db")
    lc.register(ORG, CreditRecord.model_validate(RECORD))
    person = "110101199003074573"
    lc.name_responsible_person(
        RID, code=person, name="赵六", role="related_person", at=at("2026-03-17")
    )
    lc.close()
    source = supervision_source(name="sv", path=pg_dsn, data_dir=str(tmp_path))
    assert "<dsn hidden>" in repr(source) and "search_path" not in repr(source)
    found = source.lookup([person], include_related=True)[person]
    assert found.found and [(r.record_id, r.role, r.via) for r in found.records] == [
        (RID, "related_person", ORG)
    ]
    source.close()
