"""Mirror import at scale: peak memory and time for a 1,000,000-record file.

Budget (issue 8 item 3): the import streams, so its peak resident set stays
flat, at most 300 MB for 1,000,000 records. Each phase runs in a fresh child
process that reports its own peak RSS (``resource.getrusage``), so the
figures are the import's alone:

1. a first import into an empty mirror (every record added),
2. the same file again (every record unchanged: "0 changed"),
3. the bare interpreter with creditguard imported, for comparison.

Run: ``.venv/bin/python benchmarks/bench_import.py [--records N]``. The
generated file is cached in ``$CREDITGUARD_BENCH_CACHE`` (default: the temp
folder) and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from creditguard.codes import org_code_check_char, resident_id_check_char, uscc_check_char

BUDGET_MB = 300.0

_CHILD = r"""
import json, resource, sys, time
from creditguard.mirror import SqliteMirror
db, src = sys.argv[1], sys.argv[2]
t = time.perf_counter()
report = SqliteMirror(db).import_jsonl(src) if src != "-" else None
elapsed = time.perf_counter() - t
out = {"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
if report is not None:
    out.update(added=report.added, unchanged=report.unchanged, changed=report.changed)
print(json.dumps(out))
"""


def uscc(i: int) -> str:
    """A valid, made-up enterprise code for ``i`` (authority 9, type 1, Nanjing)."""
    body = f"{i:08d}"
    first17 = "91320100" + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


def resident_id(i: int) -> str:
    """A valid, made-up resident ID number for ``i``."""
    first17 = f"320102{1960 + i % 40}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def write_file(path: Path, records: int) -> None:
    """Two records per organisation, a legal representative for every third, realistic fields."""
    tmp = path.with_suffix(".partial")
    with tmp.open("w", encoding="utf-8") as fh:
        for i in range(records):
            org = i // 2
            subject: dict[str, object] = {
                "code": uscc(org),
                "kind": "organization",
                "name": f"基准企业{org}有限公司",
            }
            if org % 3 == 0:
                subject["legal_representative"] = {"code": resident_id(org), "name": "张三"}
            record = {
                "record_id": f"BENCH-{i:08d}",
                "list_kind": "blacklist" if i % 4 else "focus",
                "domain": ("court_enforcement", "tax", "procurement", "market_regulation")[i % 4],
                "list_name": "失信被执行人名单",
                "authority": {"code": "320100-FY", "name": "南京市中级人民法院"},
                "basis": f"（2025）苏01执{i}号",
                "listed_on": "2025-01-01",
                "expires_on": "2028-01-01",
                "status": "listed",
                "region": "320100",
            }
            fh.write(json.dumps({"subject": subject, "record": record}, ensure_ascii=False) + "\n")
    tmp.rename(path)


def run_child(db: Path, src: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(db), src], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=1_000_000)
    args = ap.parse_args()
    cache = Path(os.environ.get("CREDITGUARD_BENCH_CACHE", tempfile.gettempdir()))
    src = cache / f"creditguard-bench-import-{args.records}.jsonl"
    if not src.exists():
        t = time.perf_counter()
        write_file(src, args.records)
        print(f"wrote {src} ({src.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mirror.db"
        first = run_child(db, str(src))
        again = run_child(db, str(src))
        bare = run_child(Path(tmp) / "unused.db", "-")
        db_mb = db.stat().st_size / 1e6
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "records": args.records,
        "file_mb": round(src.stat().st_size / 1e6),
        "mirror_mb": round(db_mb),
        "first_import": first,
        "reimport": again,
        "interpreter_only": bare,
        "budget_peak_rss_mb": BUDGET_MB,
    }
    print(json.dumps(results, indent=2))
    worst = max(first["peak_rss_mb"], again["peak_rss_mb"])
    verdict = "met" if worst <= BUDGET_MB else "NOT MET"
    print(
        f"{args.records:,} records: first import {first['seconds']:.0f} s, peak RSS "
        f"{first['peak_rss_mb']:.0f} MB; re-import ({again.get('changed')} changed) "
        f"{again['seconds']:.0f} s, peak {again['peak_rss_mb']:.0f} MB; interpreter alone "
        f"{bare['peak_rss_mb']:.0f} MB; budget {BUDGET_MB:.0f} MB: {verdict}"
    )


if __name__ == "__main__":
    main()
