"""The async path under load: 500 concurrent checks against a platform answering in 300 ms.

Two runs over the same loopback reference platform, which serves from a
separate process so that only the guard's own CPU is counted:

- **CPU per check**: ``AsyncGuard`` with a deadline long enough for every
  check to be answered (the pool holds 64 connections, so 500 checks take
  about 500 / 64 × 0.3 s). CPU is ``time.process_time`` of this process (every
  thread: event loop and journal writer) from the first check until the
  journal has written them all, divided by the number of checks.
  The platform process's CPU (Linux ``/proc``) is reported beside it, not in it.
- **Deadline under load**: the default 800 ms deadline. Checks that cannot get
  a connection and an answer in time must come back unverified (the step's
  failure policy decides) by their deadline; the script reports how far past
  its own deadline (its start + 800 ms) each check ended, the latest finish
  against the first check's start + 800 ms, and how late the event loop ran.

Run: ``.venv/bin/python benchmarks/bench_async.py [--checks 500] [--latency-ms 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from creditguard.codes import uscc_check_char
from creditguard.config import config_from_dict
from creditguard.guard import AsyncGuard


def org_code(n: int) -> str:
    body = f"91320100{n:09d}"
    return body + uscc_check_char(body)


def serve_forever(latency_ms: float, subjects: int) -> None:
    """The platform side (``--serve``): prints its URL, serves until stdin closes."""
    from creditguard.testing import ReferencePlatform
    from creditguard.testing.server import serve

    ref = ReferencePlatform(latency=latency_ms / 1000)
    for n in range(0, subjects, 10):  # one subject in ten listed
        ref.add_record(org_code(n), list_kind="blacklist", domain="court_enforcement")
    with serve(ref) as server:
        print(server.url, flush=True)
        sys.stdin.read()


_PLATFORM_PID: int | None = None


def platform_cpu() -> float | None:
    """CPU seconds the platform process has used (Linux ``/proc``), or None."""
    if _PLATFORM_PID is None:
        return None
    try:
        with open(f"/proc/{_PLATFORM_PID}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def guard_config(url: str, data_dir: Path, deadline_ms: int) -> dict[str, Any]:
    return {
        "guard": {"data_dir": str(data_dir), "deadline_ms": deadline_ms, "cache_ttl_s": 0},
        "sources": [
            {
                "name": "platform",
                "type": "platform",
                "base_url": url,
                "app_key": "test-key",
                "secret": "test-secret",
            }
        ],
        "failure": {"default": "hold"},
        "measures": {"packs": True},
    }


async def wait_journal(guard: AsyncGuard) -> None:
    while guard.journal is not None and guard.journal.pending:
        await asyncio.sleep(0.01)


async def run(
    url: str, data_dir: Path, warm: list[str], codes: list[str], deadline_ms: int
) -> dict[str, Any]:
    guard = AsyncGuard(config_from_dict(guard_config(url, data_dir, deadline_ms)))
    # warm up: imports, the pool's first connections, the measure lists
    warmed = await asyncio.gather(
        *(guard.check(c, step="procurement.bid", region="320100") for c in warm)
    )
    await wait_journal(guard)
    lags: list[float] = []
    done = asyncio.Event()

    async def watch_loop() -> None:  # how late the event loop wakes a 10 ms sleeper
        while not done.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - t - 0.01)

    watcher = asyncio.create_task(watch_loop())
    t0 = time.perf_counter()
    c0 = time.process_time()

    async def one(code: str) -> tuple[Any, float, float]:
        # Each check's deadline runs from its own start: the loop starts 500 checks
        # one after another, the last some tens of milliseconds after the first.
        started = time.perf_counter()
        d = await guard.check(code, step="procurement.bid", region="320100")
        ended = time.perf_counter()
        return d, ended - t0, ended - started - deadline_ms / 1000

    p0 = platform_cpu()
    results = await asyncio.gather(*(one(c) for c in codes))
    wall = time.perf_counter() - t0
    done.set()
    await watcher
    await wait_journal(guard)
    cpu = time.process_time() - c0
    p1 = platform_cpu()
    await guard.aclose()
    finished = [t for _, t, _ in results]
    late = sorted(x for _, _, x in results)
    verified = sum(d.verified for d, _, _ in results)
    return {
        "deadline_ms": deadline_ms,
        # Warm-up checks cut by the deadline (a loaded machine) count as platform
        # failures and may open the breaker: such a run measures the breaker.
        "warmup_verified": f"{sum(d.verified for d in warmed)}/{len(warm)}",
        "checks": len(codes),
        "verified": verified,
        "unverified": len(codes) - verified,
        "wall_s": wall,
        "cpu_per_check_ms": cpu / len(codes) * 1000,
        "platform_cpu_per_check_ms": (
            (p1 - p0) / len(codes) * 1000 if p0 is not None and p1 is not None else None
        ),
        "finish_median_s": statistics.median(finished),
        "finish_max_s": max(finished),
        "past_deadline_max_ms": (max(finished) - deadline_ms / 1000) * 1000,
        "past_own_deadline_max_ms": late[-1] * 1000,
        "past_own_deadline_p99_ms": late[int(len(late) * 0.99)] * 1000,
        "loop_lag_max_ms": max(lags, default=0.0) * 1000,
        "loop_lag_p99_ms": (sorted(lags)[int(len(lags) * 0.99)] * 1000 if lags else 0.0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checks", type=int, default=500)
    ap.add_argument("--latency-ms", type=float, default=300.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    subjects = args.checks + 64
    if args.serve:
        serve_forever(args.latency_ms, subjects)
        return
    server = subprocess.Popen(
        [
            *(sys.executable, __file__, "--serve"),
            *("--latency-ms", str(args.latency_ms), "--checks", str(args.checks)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    global _PLATFORM_PID
    _PLATFORM_PID = server.pid
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        codes = [org_code(n) for n in range(subjects)]
        out: dict[str, Any] = {
            "machine": f"{platform.machine()} {os.cpu_count()} cores, "
            f"Python {platform.python_version()}",
            "latency_ms": args.latency_ms,
        }
        with tempfile.TemporaryDirectory() as t:
            out["long_deadline"] = asyncio.run(
                run(url, Path(t) / "a", codes[:64], codes[64:], 30_000)
            )
            out["default_deadline"] = asyncio.run(
                run(url, Path(t) / "b", codes[:64], codes[64:], 800)
            )
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=10)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"machine: {out['machine']}; platform latency {args.latency_ms:.0f} ms, loopback")
    for name in ("long_deadline", "default_deadline"):
        r = out[name]
        print(
            f"{r['checks']} concurrent checks, deadline {r['deadline_ms']} ms "
            f"(warm-up {r['warmup_verified']} verified): "
            f"CPU {r['cpu_per_check_ms']:.2f} ms/check (platform process "
            f"{r['platform_cpu_per_check_ms'] or 0:.2f}); {r['verified']} verified, "
            f"{r['unverified']} unverified; finished median {r['finish_median_s']:.2f} s, "
            f"last {r['finish_max_s']:.2f} s ({r['past_deadline_max_ms']:+.0f} ms against the "
            f"first check's start + deadline); each check against its own deadline: "
            f"max {r['past_own_deadline_max_ms']:+.0f} ms, p99 {r['past_own_deadline_p99_ms']:+.0f} ms;"
            f" event loop late by ≤ {r['loop_lag_max_ms']:.0f} ms "
            f"(p99 {r['loop_lag_p99_ms']:.0f} ms)"
        )


if __name__ == "__main__":
    main()
