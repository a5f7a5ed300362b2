"""Sustained load on the decision journal: one thread checking without pause.

One thread checks continuously for ``--seconds`` (45 by default) over 1,000
subjects held in a local mirror (records cached: the warm path, as fast as
checks come). Every few seconds it notes how many decisions were made, how many
rows the journal has committed (read from the file by another connection),
how many wait on the queue, and the process's resident memory. After the loop
it times ``close()`` and counts the rows again: every decision must be there.

Run: ``.venv/bin/python benchmarks/bench_journal.py [--seconds 45] [--subjects 1000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench_check import forty_measures  # the benchmark's 40-measure list (same folder)

from creditguard.codes import uscc_check_char
from creditguard.config import config_from_dict
from creditguard.guard import Guard
from creditguard.mirror import SqliteMirror
from creditguard.models import CreditRecord, Subject


def org_code(n: int) -> str:
    body = f"91320100{n:09d}"
    return body + uscc_check_char(body)


def rss_mib() -> float:
    """Resident memory of this process (Linux ``/proc``), in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def committed(path: Path) -> int:
    """Decisions committed to the journal file, counted by a reader of its own."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT coalesce(sum(n), 0) FROM batches").fetchone()[0])
    finally:
        conn.close()


def build(data_dir: Path, subjects: int) -> tuple[Guard, list[str]]:
    mirror = SqliteMirror(data_dir / "mirror.db")
    codes = [org_code(n) for n in range(subjects)]
    for n, code in enumerate(codes[::3]):  # one subject in three has a record
        mirror.upsert(
            Subject(code=code, kind="organization", name=f"企业{n}"),
            CreditRecord(
                record_id=f"R-{n}",
                list_kind="blacklist",
                domain="court_enforcement",
                listed_on=date(2025, 1, 1),
                status="listed",
            ),
        )
    mirror.mark_imported()
    cfg = config_from_dict({"guard": {"data_dir": str(data_dir)}, "measures": {"packs": False}})
    guard = Guard(cfg, sources=[mirror], measure_lists=[forty_measures()], load_entrypoints=False)
    return guard, codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=45.0)
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        guard, codes = build(Path(t), args.subjects)
        journal = guard.journal
        assert journal is not None
        for code in codes:  # fill the record cache: the loop below is the warm path
            guard.check(code, step="procurement.bid", region="320100")
        journal.flush()
        base_rows = committed(journal.path)
        rss0 = rss_mib()
        samples: list[dict[str, Any]] = []
        n = 0
        most_pending = 0
        start = time.monotonic()
        next_sample = start + args.every
        end = start + args.seconds
        c0 = time.process_time()
        while True:
            for code in codes:
                guard.check(code, step="procurement.bid", region="320100")
            n += len(codes)
            most_pending = max(most_pending, journal.pending)
            now = time.monotonic()
            if now >= next_sample or now >= end:
                samples.append(
                    {
                        "t_s": round(now - start, 1),
                        "checks": n,
                        "rows": committed(journal.path) - base_rows,
                        "queued": journal.pending,
                        "rss_mib": round(rss_mib(), 1),
                    }
                )
                next_sample += args.every
                if now >= end:
                    break
        loop_s = time.monotonic() - start
        rows_at_stop = committed(journal.path) - base_rows
        t0 = time.perf_counter()
        guard.close()
        close_s = time.perf_counter() - t0
        cpu = time.process_time() - c0
        rows_after = committed(journal.path) - base_rows
    out = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "seconds": round(loop_s, 1),
        "subjects": args.subjects,
        "checks": n,
        "checks_per_s": round(n / loop_s),
        "cpu_per_check_us": round(cpu / n * 1e6, 2),
        "rows_at_stop": rows_at_stop,
        "rows_after_close": rows_after,
        "most_queued": most_pending,
        "rss_start_mib": round(rss0, 1),
        "rss_end_mib": samples[-1]["rss_mib"],
        "close_s": round(close_s, 3),
        "samples": samples,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"machine: {out['machine']}")
    for s in samples:
        print(
            f"  {s['t_s']:6.1f} s  checks {s['checks']:>10,}  rows {s['rows']:>10,}  "
            f"queued {s['queued']:>6,}  RSS {s['rss_mib']:.0f} MiB"
        )
    print(
        f"{n:,} checks in {loop_s:.1f} s ({out['checks_per_s']:,}/s, "
        f"{out['cpu_per_check_us']} µs CPU each, writer included); rows written by the end "
        f"of the loop {rows_at_stop:,}, after close {rows_after:,}; most queued {most_pending:,}; "
        f"RSS {rss0:.0f} → {out['rss_end_mib']:.0f} MiB; close() {close_s * 1000:.0f} ms"
    )
    if rows_after != n:
        raise SystemExit(f"journal lost decisions: {n - rows_after:,}")


if __name__ == "__main__":
    main()
