"""Screening benchmark: 10,000 subjects against a loopback platform answering in 20 ms.

The budget (ARCHITECTURE.md §5) is ≤ 2 s for batched screening. Beside it, the
naive way — one request per subject — is measured on a sample and extrapolated
(10,000 × 20 ms is 200 s, too long to sit through on every run).

Run: ``.venv/bin/python benchmarks/bench_screen.py [--subjects N] [--latency-ms N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from pathlib import Path

from creditguard.codes import uscc_check_char
from creditguard.config import config_from_dict
from creditguard.guard import AsyncGuard, Guard
from creditguard.testing import ReferencePlatform
from creditguard.testing.server import serve


def org_code(n: int) -> str:
    body = f"91320100{n:09d}"
    return body + uscc_check_char(body)


def build_config(url: str, data_dir: Path) -> dict[str, object]:
    return {
        "guard": {"data_dir": str(data_dir), "deadline_ms": 5000, "unit_code": "320100-BENCH"},
        "sources": [
            {
                "name": "platform",
                "type": "platform",
                "base_url": url,
                "app_key": "test-key",
                "secret": "test-secret",
            }
        ],
        "measures": {"packs": True},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subjects", type=int, default=10_000)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--naive-sample", type=int, default=100)
    args = ap.parse_args()
    ref = ReferencePlatform(latency=args.latency_ms / 1000)
    codes = [org_code(i) for i in range(args.subjects)]
    for code in codes[::50]:  # 2 % of subjects listed
        ref.add_record(code, list_kind="blacklist", domain="court_enforcement")
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with serve(ref) as server, tempfile.TemporaryDirectory() as tmp:
        cfg = config_from_dict(build_config(server.url, Path(tmp)))
        guard = Guard(cfg)
        t0 = time.perf_counter()
        results = guard.screen(codes, step="procurement.bid", region="320100")
        sync_s = time.perf_counter() - t0
        denied = sum(r.outcome == "deny" for r in results)
        assert len(results) == len(codes) and all(
            r.decision and r.decision.verified for r in results
        )
        guard.close()
        print(
            f"sync screen, {len(codes):,} subjects, platform latency {args.latency_ms:.0f} ms: "
            f"{sync_s:.2f} s ({denied} denied)  budget ≤ 2 s"
        )

        aguard = AsyncGuard(config_from_dict(build_config(server.url, Path(tmp))))

        async def run_async() -> float:
            t = time.perf_counter()
            res = await aguard.screen(codes, step="procurement.bid", region="320100")
            assert len(res) == len(codes)
            await aguard.aclose()
            return time.perf_counter() - t

        async_s = asyncio.run(run_async())
        print(f"async screen, same: {async_s:.2f} s")

        naive = Guard(config_from_dict(build_config(server.url, Path(tmp))))
        sample = codes[: args.naive_sample]
        t0 = time.perf_counter()
        for code in sample:
            naive.check(code, step="procurement.bid", region="320100")
        per = (time.perf_counter() - t0) / len(sample)
        naive.close()
        print(
            f"naive one request per subject: {per * 1000:.1f} ms each, "
            f"{per * len(codes):.0f} s extrapolated to {len(codes):,} subjects"
        )


if __name__ == "__main__":
    main()
