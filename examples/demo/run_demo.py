"""The creditguard demo: several applicants meet licensing, procurement, subsidy,
honours and appointment steps; each decision is printed with its explanation.

Run with ``make demo``. It works offline and can be run again: the import is
idempotent and the decisions are appended to the journal in ``var/``.
All subjects and codes are fictional (valid checksums, invented companies).
"""

from __future__ import annotations

import sys
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
