"""Batch screening: input order, per-row errors, batching, sync/async parity, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_FOCUS, PERSON_CLEAN, REGION
from click.testing import CliRunner

from creditguard.cli import main
from creditguard.codes import uscc_check_char
from creditguard.errors import InputError
from creditguard.testing import ReferencePlatform


class CountingSource:
    """Wraps a local source and records each lookup's codes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls: list[tuple[str, ...]] = []

    def lookup(self, codes: Any, *, include_related: bool = False) -> Any:
        self.calls.append(tuple(codes))
        return self.inner.lookup(codes, include_related=include_related)


def org(n: int) -> str:
    body = f"91320100{n:09d}"
    return body + uscc_check_char(body)


INPUT = [
    ORG_BLACK,
    "9132010",
    ORG_CLEAN,
    " 91320100ma1w2k7d41 ".replace("91320100ma1w2k7d41", ORG_BLACK.lower()),
    "not a code",
    ORG_FOCUS,
    PERSON_CLEAN,
]


def test_results_follow_the_input_and_bad_codes_stay_on_their_row(make_guard: Any) -> None:
    guard = make_guard()
    results = guard.screen(INPUT, step="procurement.bid", region=REGION)
    assert [r.row for r in results] == list(range(1, len(INPUT) + 1))
    assert [r.input for r in results] == INPUT
    outcomes = [r.outcome for r in results]
    assert outcomes[1] == "error" and outcomes[4] == "error"
    assert "expected 18 characters" in (results[1].error or "")
    assert outcomes[0] == "deny" and outcomes[3] == "deny"  # the same code, differently written
    assert outcomes[2] == "allow"
    # every decided row is what a single check says
    for r in results:
        if r.decision is not None:
            single = guard.check(r.input, step="procurement.bid", region=REGION)
            assert single.outcome == r.decision.outcome
            assert [m.code for m in single.measures] == [m.code for m in r.decision.measures]


def test_lookups_are_batched_per_block(make_guard: Any, mirror: Any) -> None:
    counting = CountingSource(mirror)
    guard = make_guard(sources=[counting])
    codes = [org(i) for i in range(1200)] + [org(5)]  # a duplicate too
    done: list[int] = []
    results = guard.screen(codes, step="procurement.bid", region=REGION, progress=done.append)
    assert len(results) == 1201 and all(r.outcome == "allow" for r in results)
    assert [len(c) for c in counting.calls] == [500, 500, 200]  # 3 blocks, duplicates asked once
    assert done == [500, 500, 201] and sum(done) == 1201


def test_a_bad_step_or_region_fails_the_whole_batch(make_guard: Any) -> None:
    guard = make_guard()
    with pytest.raises(InputError):
        guard.screen([ORG_BLACK], step="Procurement Bid", region=REGION)
    with pytest.raises(InputError):
        guard.screen([ORG_BLACK], step="procurement.bid", region="32010")


@pytest.mark.anyio
async def test_async_screen_gives_the_same_answers(make_guard: Any, make_async_guard: Any) -> None:
    sync = make_guard().screen(INPUT * 3, step="licensing.approve", region=REGION)
    asyn = await make_async_guard().screen(
        INPUT * 3, step="licensing.approve", region=REGION, concurrency=2
    )
    assert [(r.row, r.outcome, r.error) for r in sync] == [
        (r.row, r.outcome, r.error) for r in asyn
    ]
    assert [r.as_dict()["measures"] for r in sync] == [r.as_dict()["measures"] for r in asyn]


def test_screening_uses_the_platform_batch_endpoint(tmp_path: Path) -> None:
    from creditguard.config import config_from_dict
    from creditguard.guard import Guard
    from creditguard.testing.server import serve

    ref = ReferencePlatform()
    codes = [org(i) for i in range(1000)]
    ref.add_record(codes[7], list_kind="blacklist", domain="court_enforcement")
    with serve(ref) as server:
        cfg = config_from_dict(
            {
                "guard": {"data_dir": str(tmp_path)},
                "sources": [
                    {
                        "name": "p",
                        "type": "platform",
                        "base_url": server.url,
                        "app_key": "test-key",
                        "secret": "test-secret",
                    }
                ],
            }
        )
        guard = Guard(cfg)
        results = guard.screen(codes, step="procurement.bid", region="320100")
        guard.close()
    lookups = [e for e in ref.requests_log if e.path.startswith("/v1/subjects")]
    assert [(e.method, e.path, len(e.body["codes"])) for e in lookups] == [
        ("POST", "/v1/subjects:batch-records", 500),
        ("POST", "/v1/subjects:batch-records", 500),
    ]  # 1,000 subjects: two batch calls, not 1,000 lookups
    assert results[7].outcome == "deny" and sum(r.outcome == "deny" for r in results) == 1


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture
def cli_config(tmp_path: Path, mirror: Any) -> Path:
    from _coredata import city_list_data, province_list_data

    (tmp_path / "lists").mkdir()
    for name, data in (("city.json", city_list_data()), ("province.json", province_list_data())):
        (tmp_path / "lists" / name).write_text(
            json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8"
        )
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text(
        f'[guard]\ndata_dir = "var"\n[[sources]]\nname = "mirror"\ntype = "mirror"\npath = "{mirror.path}"\n'
        '[measures]\npacks = false\nfiles = ["lists/*.json"]\n',
        encoding="utf-8",
    )
    return cfg


def test_cli_screen_writes_rows_and_a_summary(
    tmp_path: Path, cli_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITGUARD_DISABLE_PLUGINS", "platform,tianyancha,qichacha")
    src = write_csv(
        tmp_path / "in.csv",
        [
            {"name": "a", "uscc": ORG_BLACK},
            {"name": "b", "uscc": "oops"},
            {"name": "c", "uscc": ORG_CLEAN},
        ],
    )
    out = tmp_path / "out.csv"
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "screen",
            str(src),
            "--code-column",
            "uscc",
            "--step",
            "procurement.bid",
            "--region",
            REGION,
            "--config",
            str(cli_config),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 1, res.output  # one row could not be decided
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["name"] for r in rows] == ["a", "b", "c"]
    assert [r["outcome"] for r in rows] == ["deny", "error", "allow"]
    assert "screened 3: 1 allow, 0 review, 0 restrict, 1 deny, 1 error" in res.output
    res = runner.invoke(
        main,
        [
            "screen",
            str(src),
            "--code-column",
            "uscc",
            "--step",
            "procurement.bid",
            "--region",
            REGION,
            "--config",
            str(cli_config),
            "--json",
        ],
    )
    data = json.loads(res.stdout)
    assert data["summary"]["deny"] == 1 and data["results"][1]["error"]


def test_cli_screen_names_a_missing_column(tmp_path: Path, cli_config: Path) -> None:
    src = write_csv(tmp_path / "in.csv", [{"name": "a", "code": ORG_BLACK}])
    res = CliRunner().invoke(
        main,
        [
            "screen",
            str(src),
            "--code-column",
            "uscc",
            "--step",
            "procurement.bid",
            "--region",
            REGION,
            "--config",
            str(cli_config),
        ],
    )
    assert res.exit_code == 2
    assert "column 'uscc' is not in" in res.output and "name, code" in res.output
