"""The creditguard demo: several applicants meet licensing, procurement, subsidy,
honours and appointment steps; each decision is printed with its explanation.

Run with ``make demo``. It works offline and can be run again: the import is
idempotent and the decisions are appended to the journal in ``var/``. The last
scene starts the reference platform on loopback, publishes a measure list for
Suzhou there and shows a guard fetching it (``[measures] platform_regions``)
and deciding under it.
All subjects and codes are fictional (valid checksums, invented companies).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import click

from creditguard import Guard
from creditguard.cli.check_cmd import render
from creditguard.mirror import SqliteMirror

HERE = Path(__file__).resolve().parent

# (who, code, step, region, what the officer is doing)
SCENES = [
    (
        "上海示例建设工程有限公司",
        "91310101MA1FL3K88W",
        "procurement.bid",
        "310000",
        "A construction company listed as a dishonest judgment debtor bids in a procurement.",
    ),
    (
        "南京示例供应链有限公司",
        "91320100MA1W2K7D41",
        "procurement.bid",
        "320100",
        "A supplier on Nanjing's procurement bad-conduct list bids in Nanjing.",
    ),
    (
        "上海示例贸易有限公司",
        "91310104MA1GT7Q22R",
        "licensing.commitment",
        "310104",
        "A trading company in the abnormal-operations list asks for approval by commitment.",
    ),
    (
        "上海示例贸易有限公司",
        "91310104MA1GT7Q22R",
        "licensing.approve",
        "310104",
        "The same company goes through ordinary licensing instead.",
    ),
    (
        "上海示例贸易有限公司",
        "91310104MA1GT7Q22R",
        "subsidy.apply",
        "310104",
        "It also applies for a fiscal subsidy.",
    ),
    (
        "上海示例食品有限公司",
        "91310112MA1H2N4W54",
        "honors.nominate",
        "310000",
        "A food company on the serious-violation list is nominated for an award.",
    ),
    (
        "张示例（个人）",
        "310199197503122010",
        "appointment.qualify",
        "310000",
        "The legal representative of the listed construction company is up for a directorship.",
    ),
    (
        "上海示例物流有限公司",
        "91310106MA1J5C6E99",
        "procurement.bid",
        "310000",
        "A logistics company whose listing was repaired bids again.",
    ),
    (
        "上海示例科技有限公司",
        "91310115MA1K0P9R3F",
        "honors.nominate",
        "310115",
        "A technology company whose environmental listing expired is nominated.",
    ),
]


# A list the platform publishes for Suzhou (spec §5.1): the guard fetches it, judges each
# measure (SZ-09 cites an instrument nobody knows, so it is refused, never applied).
SUZHOU_LIST = {
    "region": "320500",
    "version": "2026.3",
    "effective_from": "2026-03-01",
    "issued_by": "苏州市社会信用体系建设领导小组办公室（演示）",
    "measures": [
        {
            "code": "SZ-01",
            "title": "列入政府采购严重违法失信行为记录名单期间禁止参加政府采购活动",
            "category": "rights_limiting",
            "legal_basis": ["《中华人民共和国政府采购法》第七十七条"],
            "applies_to": {
                "list_kinds": ["blacklist"],
                "domains": ["procurement"],
                "steps": ["procurement.*"],
            },
            "effect": "deny",
        },
        {
            "code": "SZ-09",
            "title": "依据不明的限制",
            "category": "rights_limiting",
            "legal_basis": ["《随便什么法》第一条"],
            "applies_to": {"list_kinds": ["blacklist"], "steps": ["subsidy.*"]},
            "effect": "restrict",
        },
    ],
}

PLATFORM_CONFIG = """[guard]
unit_code = "320500-DEMO"
data_dir = "{data_dir}"

[[sources]]
name = "platform"
type = "platform"
base_url = "{url}"
app_key = "{app_key}"
secret_env = "CREDITGUARD_DEMO_PLATFORM_SECRET"

[measures]
packs = ["measures-statutes"]
platform_regions = ["320500"]

[outbox]
enabled = false
"""


def platform_scene(number: int) -> None:
    """A list published on the (loopback, reference) platform, fetched and applied."""
    from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET, ReferencePlatform, serve
    from creditguard.testing.data import load_jsonl

    platform = ReferencePlatform()
    load_jsonl(platform, str(HERE / "records.jsonl"))
    platform.set_measure_list(SUZHOU_LIST)
    os.environ["CREDITGUARD_DEMO_PLATFORM_SECRET"] = DEFAULT_SECRET  # the test platform's
    code, step, region = "91320100MA1W2K7D41", "procurement.bid", "320500"
    print("=" * 78)
    print(f"{number}. 南京示例供应链有限公司 — the platform publishes Suzhou's list; the guard")
    print("   fetches it (validated: a measure without a known basis is not applied) and bids.")
    with serve(platform) as server, tempfile.TemporaryDirectory() as data_dir:
        cfg = Path(data_dir) / "creditguard.toml"
        cfg.write_text(
            PLATFORM_CONFIG.format(data_dir=data_dir, url=server.url, app_key=DEFAULT_APP_KEY),
            encoding="utf-8",
        )
        with Guard.from_config(cfg, journal=False) as guard:
            for f in guard.list_fetches:
                print(f"   measure list {f.region}: {f.status} version {f.version} ({f.trigger})")
            decision = guard.check(code, step=step, region=region)
            origin = guard.catalog.origin(decision.list_region or "", decision.list_version or "")
            print(
                f"   $ creditguard check {decision.subject_display} --step {step} --region {region}"
            )
            print("-" * 78)
            click.echo(render(decision))
            print(
                f"   list in force: {decision.list_region} {decision.list_version}, origin {origin}"
            )
            print(f"   not applied (refused by validation): {', '.join(decision.list_refused)}")
    print()


def main() -> int:
    guard = Guard.from_config(HERE / "creditguard.toml")
    mirror = guard.sources["mirror"]
    assert isinstance(mirror, SqliteMirror)
    report = mirror.import_jsonl(HERE / "records.jsonl")
    print(f"Loaded {report.records} sample records into {mirror.path} (fictional subjects).\n")
    for i, (who, code, step, region, story) in enumerate(SCENES, start=1):
        decision = guard.check(code, step=step, region=region)
        print("=" * 78)
        print(f"{i}. {who} — {story}")
        print(f"   $ creditguard check {decision.subject_display} --step {step} --region {region}")
        print("-" * 78)
        click.echo(render(decision))
        print()
    platform_scene(len(SCENES) + 1)
    pending = guard.cases.outbox.status(now=time.time()).pending if guard.cases is not None else 0
    guard.close()
    assert guard.journal is not None
    print("=" * 78)
    print(f"Every decision above was journaled in {guard.journal.path};")
    print("see them with:  .venv/bin/creditguard journal --config examples/demo/creditguard.toml")
    print(
        f"Decisions that applied measures opened cases: {pending} item(s) wait in the outbox, since the"
    )
    print(
        "demo has no platform to deliver to; see .venv/bin/creditguard outbox status --config examples/demo/creditguard.toml"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
