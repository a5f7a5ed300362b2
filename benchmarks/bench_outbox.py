"""Outbox benchmark: durable enqueue rate and delivery rate to a loopback platform.

    python benchmarks/bench_outbox.py [--enqueue 5000] [--deliver 1000]

Budget (ARCHITECTURE.md §5): durable feedback enqueue ≥ 2,000 per second on
one core. Each enqueue below is its own committed transaction
(WAL, ``synchronous=FULL``), as in a workflow step.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from creditguard_platform import PlatformChannel

from creditguard.cases import CaseFeedback, feedback_item
from creditguard.outbox import Deliverer, OutboxItem, SqliteOutbox
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET, ReferencePlatform, serve


def items(n: int, tag: str) -> list[OutboxItem]:
    return [
        feedback_item(
            CaseFeedback(
                case_id=f"320100-CG-{tag}-{i}",
                unit_code="320100-CG",
                measure_code="S-01",
                step="procurement.bid",
                action="denied",
                detail="",
                decided_at="2026-03-02T09:15:03+08:00",
                workflow_ref="NJCG-2026-0315-007",
            )
        )
        for i in range(n)
    ]


def bench_enqueue(folder: Path, n: int) -> float:
    box = SqliteOutbox(folder / "enqueue.db")
    batch = items(n, "e")
    started = time.perf_counter()
    for item in batch:
        box.enqueue(item)
    elapsed = time.perf_counter() - started
    box.close()
    return n / elapsed


def bench_deliver(folder: Path, n: int) -> float:
    box = SqliteOutbox(folder / "deliver.db")
    platform = ReferencePlatform()
    # Cases must exist for feedback; initiations go straight into the platform's state.
    with platform.lock:
        for i in range(n):
            platform.store.cases[f"320100-CG-d-{i}"] = {
                "case_id": f"320100-CG-d-{i}",
                "subject_code": "x",
            }
    box.enqueue_many(items(n, "d"))
    with serve(platform) as server:
        channel = PlatformChannel("platform", server.url, DEFAULT_APP_KEY, DEFAULT_SECRET)
        d = Deliverer(box, channel)
        started = time.perf_counter()
        attempts = d.deliver_due(limit=n)
        elapsed = time.perf_counter() - started
        d.close()
    assert sum(a.result == "delivered" for a in attempts) == n, "every item delivered"
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enqueue", type=int, default=5000)
    parser.add_argument("--deliver", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        enq = bench_enqueue(Path(tmp), args.enqueue)
        dlv = bench_deliver(Path(tmp), args.deliver)
    verdict = "within" if enq >= 2000 else "OVER"
    print(
        f"durable enqueue: {enq:,.0f} items/s ({args.enqueue} single-item transactions; budget 2,000/s: {verdict})"
    )
    print(
        f"delivery to loopback platform: {dlv:,.0f} items/s ({args.deliver} items, one deliverer)"
    )


if __name__ == "__main__":
    main()
