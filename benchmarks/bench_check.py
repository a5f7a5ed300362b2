"""Benchmark of the check's hot paths against the budgets of ARCHITECTURE.md §5.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_check.py``).
Prints one line per measurement; ``--json`` prints them as JSON. Figures are
medians of per-call times over many batches, measured in this one process,
so the OpenFeature baseline and creditguard see the same machine state.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from creditguard import Guard, hookimpl
from creditguard.codes import uscc_check_char
from creditguard.config import config_from_dict
from creditguard.mirror import SqliteMirror
from creditguard.models import CreditRecord, MeasureList, Subject

STEPS = ["procurement.bid", "subsidy.apply", "licensing.approve", "honors.nominate", "market.entry"]


def per_call_median(fn: Callable[[], object], *, batches: int = 60, per_batch: int = 2000) -> float:
    """Median over batches of the mean time of one call, in microseconds."""
    for _ in range(per_batch):
        fn()
    samples = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(per_batch):
            fn()
        samples.append((time.perf_counter() - t0) / per_batch * 1e6)
    return statistics.median(samples)


def org_code(n: int) -> str:
    body = f"91320100{n:09d}"
    return body + uscc_check_char(body)


def forty_measures() -> MeasureList:
    measures = []
    kinds = [["blacklist"], ["focus"], ["blacklist", "focus"]]
    effects = [
        "deny",
        "restrict",
        "strict_review",
        "no_commitment",
        "increase_inspection",
        "notify",
    ]
    domains = [["*"], ["court_enforcement"], ["tax"], ["market_regulation", "environment"]]
    for i in range(40):
        measures.append(
            {
                "code": f"B-{i:02d}",
                "title": f"基准措施{i}",
                "category": "rights_limiting" if i % 3 == 0 else "management",
                "legal_basis": [
                    {
                        "title": "《中华人民共和国政府采购法》",
                        "article": "第二十二条",
                        "level": "law",
                    }
                ],
                "applies_to": {
                    "list_kinds": kinds[i % 3],
                    "domains": domains[i % 4],
                    "steps": [STEPS[i % len(STEPS)].split(".")[0] + ".*"],
                },
                "effect": effects[i % 6],
                "effective_from": "2021-01-01",
            }
        )
    return MeasureList.model_validate(
        {"region": "320100", "version": "bench", "measures": measures}
    )


class Observer:
    """One observer hook, to match OpenFeature's one hook."""

    def __init__(self) -> None:
        self.seen = 0

    @hookimpl
    def creditguard_decision_made(self, decision: Any, context: Any) -> None:
        self.seen += 1


def bench_warm_check(tmp: Path) -> dict[str, float]:
    mirror = SqliteMirror(tmp / "warm.db")
    code = org_code(1)
    subject = Subject(code=code, kind="organization", name="基准企业")
    for i, (kind, domain) in enumerate(
        [("blacklist", "court_enforcement"), ("focus", "tax"), ("blacklist", "market_regulation")]
    ):
        mirror.upsert(
            subject,
            CreditRecord(
                record_id=f"R-{i}",
                list_kind=kind,
                domain=domain,  # type: ignore[arg-type]
                listed_on=date(2025, 1, 1),
                status="listed",
            ),
        )
    cfg = config_from_dict({"guard": {"data_dir": str(tmp)}, "measures": {"packs": False}})
    guard = Guard(
        cfg,
        sources=[mirror],
        measure_lists=[forty_measures()],
        plugins=[Observer()],
        load_entrypoints=False,
    )
    d = guard.check(code, step="procurement.bid", region="320100")
    assert len(d.records) == 3 and d.measures, d
    cg = per_call_median(lambda: guard.check(code, step="procurement.bid", region="320100"))
    guard.close()
    return {"creditguard_warm_check_us": cg, "records_with_effect": 3, "measures_in_list": 40}


def bench_openfeature() -> float:
    from openfeature import api
    from openfeature.hook import Hook
    from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

    api.set_provider(InMemoryProvider({"flag": InMemoryFlag("on", {"on": True, "off": False})}))
    client = api.get_client()

    class After(Hook):
        def after(self, hook_context: Any, details: Any, hints: Any) -> None:
            pass

    client.add_hooks([After()])
    return per_call_median(lambda: client.get_boolean_value("flag", False))


def bench_clean_mirror(tmp: Path, size: int) -> dict[str, float]:
    cache_dir = Path(os.environ.get("CREDITGUARD_BENCH_CACHE", tempfile.gettempdir()))
    path = cache_dir / f"creditguard-bench-mirror-{size}.db"
    mirror = SqliteMirror(path)
    if mirror.count()[1] < size:
        rec = CreditRecord(
            record_id="x",
            list_kind="blacklist",
            domain="tax",
            listed_on=date(2025, 1, 1),
            status="listed",
        )
        data = rec.model_dump_json()
        conn = mirror._conn
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT OR REPLACE INTO records(record_id, subject_code, data) VALUES (?, ?, ?)",
            ((f"R{i}", org_code(i + 10), data.replace('"x"', f'"R{i}"', 1)) for i in range(size)),
        )
        conn.execute("COMMIT")
    cfg = config_from_dict(
        {"guard": {"data_dir": str(tmp), "cache_ttl_s": 0}, "measures": {"packs": False}}
    )
    guard = Guard(cfg, sources=[mirror], measure_lists=[forty_measures()], load_entrypoints=False)
    clean = [org_code(size + 1000 + i) for i in range(5000)]
    it = iter(range(10**9))

    def one() -> None:
        guard.check(clean[next(it) % 5000], step="procurement.bid", region="320100")

    us = per_call_median(one, batches=30, per_batch=1000)
    guard.close()
    return {"clean_check_1m_mirror_us": us, "mirror_records": float(mirror.count()[1])}


def bench_import() -> float:
    code = "import time; t=time.perf_counter(); import creditguard; print(time.perf_counter()-t)"
    runs = [
        float(subprocess.check_output([sys.executable, "-c", code]).decode()) * 1000
        for _ in range(7)
    ]
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--mirror-size", type=int, default=1_000_000)
    args = ap.parse_args()
    results: dict[str, Any] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        results["openfeature_eval_one_hook_us"] = bench_openfeature()
        results.update(bench_warm_check(tmp))
        results["warm_ratio"] = (
            results["creditguard_warm_check_us"] / results["openfeature_eval_one_hook_us"]
        )
        if args.mirror_size:
            results.update(bench_clean_mirror(tmp, args.mirror_size))
    results["import_ms"] = bench_import()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"machine: {results['machine']}")
    print(
        f"OpenFeature in-memory evaluation, one hook: {results['openfeature_eval_one_hook_us']:.2f} µs"
    )
    print(
        f"warm check (3 records, 40 measures, journal + one observer): {results['creditguard_warm_check_us']:.2f} µs"
        f"  ratio {results['warm_ratio']:.2f} (budget ≤ 0.70)"
    )
    if "clean_check_1m_mirror_us" in results:
        print(
            f"clean subject against a {int(results['mirror_records']):,}-record mirror: "
            f"{results['clean_check_1m_mirror_us']:.2f} µs (budget ≤ 10)"
        )
    print(f"import creditguard: {results['import_ms']:.1f} ms (budget ≤ 250)")


if __name__ == "__main__":
    main()
