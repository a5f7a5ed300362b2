"""Screening benchmarks: against a loopback platform, and re-screening against a large mirror.

``platform`` (the default): 10,000 subjects against a loopback platform
answering in 20 ms. The budget (ARCHITECTURE.md §5) is ≤ 2 s for batched
screening. Beside it, the naive way — one request per subject — is measured on
a sample and extrapolated (10,000 × 20 ms is 200 s, too long to sit through on
every run)::

    .venv/bin/python benchmarks/bench_screen.py [platform] [--subjects N] [--latency-ms N]

``mirror``: re-screening N codes (default 1,000,000) through
:meth:`Guard.iter_screen` against a SQLite mirror written by ``bench_scale.py``
(issue 13's budget: 1,000,000 codes against 1,000,000 records in ≤ 30 s).
``--held-fraction`` of the codes are held organisations (``uscc(i)``,
i < ``--orgs``), the rest clean (``uscc(i)``, i ≥ ``--orgs``); the codes are
generated lazily, the journal is on and drained before the clock stops (the
guard is closed). For comparison, ``--compare`` codes (default 100,000) are
screened both through ``iter_screen`` and through ``screen`` (the whole list
held). Each run is a fresh child process, so its peak RSS
(``resource.getrusage``) is its own; the mirror file is memory-mapped, so the
peak RSS counts its pages read too, and ``anon_peak_mb`` (``RssAnon`` sampled
after every block) is the heap alone::

    nice -n 10 .venv/bin/python benchmarks/bench_screen.py mirror \\
        [/tmp/creditguard-scale-1000000.db] [--codes N] [--compare N] [--held-fraction F]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    modes = ap.add_subparsers(dest="mode")
    plat = modes.add_parser("platform", help="10,000 subjects against a loopback platform")
    for parser in (ap, plat):
        parser.add_argument("--subjects", type=int, default=10_000)
        parser.add_argument("--latency-ms", type=float, default=20.0)
        parser.add_argument("--naive-sample", type=int, default=100)
    mir = modes.add_parser("mirror", help="re-screening against a large SQLite mirror")
    mir.add_argument("db", nargs="?", default="/tmp/creditguard-scale-1000000.db")
    mir.add_argument("--codes", type=int, default=1_000_000, help="codes re-screened")
    mir.add_argument(
        "--compare", type=int, default=100_000, help="codes for iter_screen against screen"
    )
    mir.add_argument("--held-fraction", type=float, default=0.5)
    mir.add_argument("--orgs", type=int, default=500_000, help="organisations held in the mirror")
    mir.add_argument(
        "--cache-ttl-s", type=float, default=None, help="record cache (default: the product's)"
    )
    mir.add_argument("--child", choices=["iter_screen", "screen"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mode == "mirror":
        if args.child:
            print(json.dumps(mirror_child(args)))
        else:
            mirror_bench(args)
        return
    platform_bench(args)


def platform_bench(args: argparse.Namespace) -> None:
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


def rescreen_codes(n: int, held_fraction: float, orgs: int) -> Iterator[str]:
    """``n`` codes, ``held_fraction`` of them held (spread evenly), generated one at a time."""
    from bench_import import uscc

    for i in range(n):
        if int((i + 1) * held_fraction) > int(i * held_fraction):
            yield uscc(i % orgs)
        else:
            yield uscc(orgs + i)


def _rss_anon_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


def mirror_child(args: argparse.Namespace) -> dict[str, Any]:
    """One run in this process: open the mirror, screen, close the guard (journal drained)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_check import forty_measures

    from creditguard.mirror import SqliteMirror

    m = SqliteMirror(args.db)
    t = time.perf_counter()
    m.load_filter()
    filter_s = time.perf_counter() - t
    tmp = tempfile.mkdtemp()
    guard_cfg: dict[str, Any] = {"data_dir": tmp}
    if args.cache_ttl_s is not None:
        guard_cfg["cache_ttl_s"] = args.cache_ttl_s
    cfg = config_from_dict(
        {"guard": guard_cfg, "journal": {"enabled": True}, "measures": {"packs": False}},
        base_dir=tmp,
    )
    guard = Guard(cfg, sources=[m], measure_lists=[forty_measures()], load_entrypoints=False)
    gc_s = 0.0
    gc_started = 0.0

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        nonlocal gc_s, gc_started
        if phase == "start":
            gc_started = time.perf_counter()
        else:
            gc_s += time.perf_counter() - gc_started

    anon_peak = _rss_anon_mb()
    anon_start = anon_peak

    def progress(_: int) -> None:
        nonlocal anon_peak
        anon_peak = max(anon_peak, _rss_anon_mb())

    codes = rescreen_codes(args.codes, args.held_fraction, args.orgs)
    kw: dict[str, Any] = {"step": "procurement.bid", "region": "320100", "progress": progress}
    outcomes: Counter[str] = Counter()
    gc.callbacks.append(on_gc)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if args.child == "iter_screen":
        for r in guard.iter_screen(codes, **kw):
            outcomes[r.outcome] += 1
    else:
        results = guard.screen(codes, **kw)
        outcomes.update(r.outcome for r in results)
        progress(0)
        del results
    guard.close()  # the journal written out: part of the cost
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    gc.callbacks.remove(on_gc)
    m.close()
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {
        "api": args.child,
        "codes": args.codes,
        "held_fraction": args.held_fraction,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "codes_per_s": round(args.codes / wall),
        "gc_s": round(gc_s, 2),
        "peak_rss_mb": round(ru1.ru_maxrss / 1024, 1),
        "anon_start_mb": round(anon_start, 1),
        "anon_peak_mb": round(anon_peak, 1),
        "filter_build_s": round(filter_s, 2),
        "outcomes": dict(outcomes),
    }


def mirror_bench(args: argparse.Namespace) -> None:
    """Run each measurement in a fresh child and print one line of JSON each."""
    if not Path(args.db).exists():
        sys.exit(f"{args.db} not found: build it with benchmarks/bench_scale.py --sizes 1000000")
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    runs = [("iter_screen", args.codes)]
    if args.compare:
        runs += [("iter_screen", args.compare), ("screen", args.compare)]
    common = ["--held-fraction", str(args.held_fraction), "--orgs", str(args.orgs)]
    if args.cache_ttl_s is not None:
        common += ["--cache-ttl-s", str(args.cache_ttl_s)]
    for api, n in runs:
        cmd = [sys.executable, __file__, "mirror", args.db, "--codes", str(n), *common]
        done = subprocess.run([*cmd, "--child", api], check=True, capture_output=True, text=True)
        print(done.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
