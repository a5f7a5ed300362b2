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
    # 3 blocks, a duplicate within a block asked once; screening does not fill the record
    # cache (a batch would evict the warm subjects of the checks beside it), so the code
    # repeated in the last block is asked again.
    assert [len(c) for c in counting.calls] == [500, 500, 201]
    assert done == [500, 500, 201] and sum(done) == 1201
    assert len(guard.cache) == 0
    guard.check(org(7), step="procurement.bid", region=REGION)  # a check still caches
    assert len(guard.cache) == 1


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


def screen_cli(src: Path, cli_config: Path, *extra: str, step: str = "procurement.bid") -> Any:
    return CliRunner().invoke(
        main,
        [
            "screen",
            str(src),
            "--code-column",
            "uscc",
            "--step",
            step,
            "--region",
            REGION,
            "--config",
            str(cli_config),
            *extra,
        ],
    )


# Over three blocks: held, invalid and clean codes, in an order the output must keep.
MANY = [ORG_BLACK if n % 97 == 0 else ("oops" if n % 89 == 0 else org(n)) for n in range(1203)]


def library_rows(make_guard: Any, codes: list[str]) -> list[dict[str, Any]]:
    """What the library decides for ``codes`` (decision ids aside: new on every decision)."""
    rows = make_guard().screen(codes, step="procurement.bid", region=REGION)
    return [{**r.as_dict(), "decision_id": None} for r in rows]


def test_cli_screen_streams_the_same_csv_over_many_blocks(
    tmp_path: Path, cli_config: Path, make_guard: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITGUARD_DISABLE_PLUGINS", "platform,tianyancha,qichacha")
    src = tmp_path / "in.csv"
    # The code column first, after a byte-order mark: counting the rows first must not
    # leave the mark in front of the header when the file is read again.
    with src.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["uscc", "name"])
        for n, code in enumerate(MANY):
            w.writerow([code, f"名称{n}"])
            if n == 600:
                fh.write("\r\n")  # an empty line is skipped, as before
    out = tmp_path / "out.csv"
    res = screen_cli(src, cli_config, "--out", str(out))
    assert res.exit_code == 1, res.output  # the "oops" rows
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == [
        *("uscc", "name", "outcome", "measures", "verified"),
        *("degraded_reason", "decision_id", "error"),
    ]
    assert [r["name"] for r in rows] == [f"名称{n}" for n in range(len(MANY))]
    expected = library_rows(make_guard, MANY)
    assert [(r["uscc"], r["outcome"], r["measures"], r["error"]) for r in rows] == [
        (code, e["outcome"], " ".join(e["measures"]), e["error"] or "")
        for code, e in zip(MANY, expected, strict=True)
    ]
    assert all(r["decision_id"] for r in rows if r["outcome"] != "error")
    n_deny, n_err = MANY.count(ORG_BLACK), MANY.count("oops")
    assert (
        f"screened 1203: {1203 - n_deny - n_err} allow, 0 review, 0 restrict, "
        f"{n_deny} deny, {n_err} error"
    ) in res.output


def test_cli_screen_json_is_one_document_laid_out_as_before(
    tmp_path: Path, cli_config: Path, make_guard: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITGUARD_DISABLE_PLUGINS", "platform,tianyancha,qichacha")
    src = write_csv(tmp_path / "in.csv", [{"uscc": c} for c in MANY])
    res = screen_cli(src, cli_config, "--json")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    # the layout of every --json document (echo_json), though its rows were streamed
    assert res.stdout == json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    assert list(doc) == ["schema_version", "summary", "results"]
    assert doc["summary"] == {
        "rows": 1203,
        "allow": 1203 - MANY.count(ORG_BLACK) - MANY.count("oops"),
        "review": 0,
        "restrict": 0,
        "deny": MANY.count(ORG_BLACK),
        "error": MANY.count("oops"),
    }
    assert [{**r, "decision_id": None} for r in doc["results"]] == library_rows(make_guard, MANY)
    # a file with no rows: the same document, its results empty
    empty = tmp_path / "empty.csv"
    empty.write_text("uscc\n", encoding="utf-8")
    res = screen_cli(empty, cli_config, "--json")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["results"] == [] and '"results": []\n}\n' in res.stdout


def test_cli_screen_text_rows_and_a_bad_step(
    tmp_path: Path, cli_config: Path, make_guard: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITGUARD_DISABLE_PLUGINS", "platform,tianyancha,qichacha")
    codes = [ORG_CLEAN, ORG_BLACK, "oops", ORG_FOCUS]
    src = write_csv(tmp_path / "in.csv", [{"uscc": c} for c in codes])
    res = screen_cli(src, cli_config)
    lines = res.stdout.splitlines()
    expected = library_rows(make_guard, codes)
    assert lines == [
        f"{e['row']:>6}  {e['outcome']:8} {e['input']:20} {e['error'] or ' '.join(e['measures'])}"
        for e in expected
    ]
    assert res.exit_code == 1
    # a bad step is a usage error before any row: no --out file is begun
    out = tmp_path / "out.csv"
    res = screen_cli(src, cli_config, "--out", str(out), step="procurement.bi")
    assert res.exit_code == 2 and "procurement.bid" in res.output
    assert not out.exists()


def test_rows_are_counted_only_in_a_file_that_can_be_read_twice(tmp_path: Path) -> None:
    import os

    from creditguard.cli.screen_cmd import _count_rows

    src = write_csv(tmp_path / "in.csv", [{"uscc": ORG_BLACK}, {"uscc": "a\nb"}])
    with src.open(encoding="utf-8-sig") as fh:
        assert _count_rows(fh) == 2  # a quoted line break is one row
        assert fh.readline().startswith("uscc")  # read again from the start
    r, w = os.pipe()
    with os.fdopen(r, encoding="utf-8") as pipe, os.fdopen(w, "w") as writer:
        writer.write("uscc\n")
        writer.flush()
        assert _count_rows(pipe) is None  # a pipe is read once: a bar of unknown length
        assert pipe.readline() == "uscc\n"
