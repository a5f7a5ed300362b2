"""Growth benchmark: how import, size, check latency and screening rate grow with the mirror (issue 13).

For each size (records; two per organisation, a legal representative for
every third, as ``bench_import.py`` writes them) and each store (SQLite file,
PostgreSQL given by ``--pg-dsn`` or ``$CREDITGUARD_TEST_PG_DSN``), a fresh
child process (so peak memory is its own):

- imports the file (seconds, peak RSS of the process),
- reports the store's size on disk (file + WAL, or ``pg_total_relation_size``),
- times a clean subject's check through :class:`~creditguard.Guard` (median
  per-check CPU over batches, like ``bench_check.py``) and the bare lookup,
- re-screens codes in blocks of 500 (the screening block size), half held
  and half clean, and reports codes per second.

Results go to stdout as a Markdown table and to ``--json``; ``--plot PNG``
draws them (matplotlib). Not run in tests: budgets are not asserted there.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_scale.py --sizes 10000,100000,1000000
--plot docs/growth.png --json growth.json``.

``--reuse`` keeps a store imported by an earlier run (its import figures are
kept beside it, in ``<file>.import.json`` or a table of the schema) and only
measures again: a 10,000,000-record import takes a quarter of an hour, the
measuring a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_import import uscc, write_file

SCREEN_CODES = 100_000  # codes looked up per run (rate extrapolated to 1,000,000)
SCREEN_DECIDED = 20_000  # codes screened with decisions per run (extrapolated too)


def _mirror(store: str, where: str) -> Any:
    from creditguard.mirror import PostgresMirror, SqliteMirror

    return SqliteMirror(where) if store == "sqlite" else PostgresMirror(where)


def _size_bytes(store: str, where: str, m: Any) -> int:
    if store == "sqlite":
        return sum(os.path.getsize(p) for p in (where, where + "-wal") if os.path.exists(p))
    rows = m._read(
        "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c "
        "WHERE c.relname LIKE 'mirror_%%' AND c.relkind = 'r' "
        "AND c.relnamespace = current_schema()::regnamespace"
    )
    return int(rows[0][0] or 0)


def _saved_import(store: str, where: str, m: Any) -> dict[str, Any] | None:
    """The import figures an earlier run kept with this store, if any."""
    if store == "sqlite":
        side = Path(where + ".import.json")
        return json.loads(side.read_text()) if side.exists() else None
    try:
        rows = m._read("SELECT figures FROM bench_import_figures")
    except Exception:  # no such table: never imported by this benchmark
        return None
    return json.loads(rows[0][0]) if rows else None


def _save_import(store: str, where: str, m: Any, figures: dict[str, Any]) -> None:
    if store == "sqlite":
        Path(where + ".import.json").write_text(json.dumps(figures))
        return
    import psycopg

    with psycopg.connect(where, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_import_figures (figures TEXT)")
        conn.execute("DELETE FROM bench_import_figures")
        conn.execute("INSERT INTO bench_import_figures VALUES (%s)", (json.dumps(figures),))


def child(store: str, where: str, source: str, records: int) -> dict[str, Any]:
    """One store, one size: import (or reuse an earlier one), size, check latency, screening rate."""
    from bench_check import forty_measures

    from creditguard import Guard
    from creditguard.config import config_from_dict

    m = _mirror(store, where)
    saved = _saved_import(store, where, m) if os.environ.get("BENCH_SCALE_REUSE") else None
    reused = saved is not None
    if saved is None:
        t = time.perf_counter()
        report = m.import_jsonl(source)
        saved = {
            "import_s": round(time.perf_counter() - t, 2),
            "import_peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            ),
            "added": report.added,
        }
        _save_import(store, where, m, saved)
    filter_s = None
    if store == "sqlite":
        # The membership filter a process builds once (a background thread would do it
        # after the first lookups): built here, and timed, so every figure below has it.
        t = time.perf_counter()
        m.load_filter()
        filter_s = round(time.perf_counter() - t, 2)
    orgs = records // 2
    clean = [uscc(orgs + 1000 + i) for i in range(2000)]
    tmp = tempfile.mkdtemp()
    cfg = config_from_dict(
        {"guard": {"data_dir": tmp, "cache_ttl_s": 0}, "measures": {"packs": False}},
        base_dir=tmp,
    )
    guard = Guard(cfg, sources=[m], measure_lists=[forty_measures()], load_entrypoints=False)
    for c in clean[:200]:
        guard.check(c, step="procurement.bid", region="320100")

    def per_call(fn: Any, n: int) -> float:
        t0 = time.process_time()
        for i in range(n):
            fn(clean[i % len(clean)])
        return (time.process_time() - t0) / n * 1e6

    def wall_call(fn: Any, n: int) -> float:  # PostgreSQL: the server's CPU is elsewhere
        t0 = time.perf_counter()
        for i in range(n):
            fn(clean[i % len(clean)])
        return (time.perf_counter() - t0) / n * 1e6

    timer = per_call if store == "sqlite" else wall_call
    check_us = statistics.median(
        timer(lambda c: guard.check(c, step="procurement.bid", region="320100"), 1000)
        for _ in range(9)
    )
    lookup_us = statistics.median(timer(lambda c: m.lookup([c]), 2000) for _ in range(9))
    n = min(SCREEN_CODES, records)
    codes = [uscc((i // 2) % orgs) if i % 2 else uscc(orgs + 5000 + i) for i in range(n)]
    # Re-screening with decisions (Guard.screen), on a sample: the 1,000,000-code budget.
    sample = codes[: min(len(codes), SCREEN_DECIDED)]
    t = time.perf_counter()
    decided = guard.screen(sample, step="procurement.bid", region="320100")
    decide_s = time.perf_counter() - t
    assert len(decided) == len(sample)
    guard.close()
    t = time.perf_counter()
    found = 0
    for start in range(0, n, 500):
        got = m.lookup(codes[start : start + 500])
        found += sum(1 for r in got.values() if r.found)
    screen_s = time.perf_counter() - t
    out = {
        "store": store,
        "records": records,
        "import_s": saved["import_s"],
        "import_peak_rss_mb": saved["import_peak_rss_mb"],
        "filter_build_s": filter_s,
        "size_mb": round(_size_bytes(store, where, m) / 1e6, 1),
        "clean_check_us": round(check_us, 1),
        "clean_lookup_us": round(lookup_us, 1),
        "screen_codes": n,
        "screen_found": found,
        "screen_rate_per_s": round(n / screen_s),
        "screen_1m_s_extrapolated": round(1_000_000 / (n / screen_s), 1),
        "decided_rate_per_s": round(len(sample) / decide_s),
        "decided_1m_s_extrapolated": round(1_000_000 * decide_s / len(sample), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "added": saved["added"],
        "reused_import": reused,
    }
    m.close()
    return out


def _pg_schema(dsn: str, name: str, *, keep: bool = False) -> str:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        if not keep:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {name}")
    sep = "&" if "?" in dsn else "?"
    return f"{dsn}{sep}options=-csearch_path%3D{name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--stores", default="sqlite,postgres")
    ap.add_argument("--pg-dsn", default=os.environ.get("CREDITGUARD_TEST_PG_DSN"))
    ap.add_argument("--json", dest="json_out")
    ap.add_argument("--plot")
    ap.add_argument("--plot-from", help="draw --plot from this --json file, measuring nothing")
    ap.add_argument(
        "--reuse", action="store_true", help="measure stores imported by an earlier run"
    )
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        store, where, source, records = args.child
        print(json.dumps(child(store, where, source, int(records))))
        return
    if args.plot_from:
        plot(json.loads(Path(args.plot_from).read_text()), args.plot)
        return
    work = Path(os.environ.get("CREDITGUARD_BENCH_CACHE", tempfile.gettempdir()))
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        source = work / f"creditguard-bench-import-{size}.jsonl"
        if not source.exists():
            write_file(source, size)
        for store in args.stores.split(","):
            if store == "sqlite":
                where = str(work / f"creditguard-scale-{size}.db")
                for p in (where, where + "-wal", where + "-shm", where + ".import.json"):
                    if os.path.exists(p) and not args.reuse:
                        os.remove(p)
            else:
                if not args.pg_dsn:
                    print("no --pg-dsn: PostgreSQL skipped", file=sys.stderr)
                    continue
                where = _pg_schema(args.pg_dsn, f"cg_scale_{size}", keep=args.reuse)
            env = {**os.environ, "BENCH_SCALE_REUSE": "1" if args.reuse else ""}
            out = subprocess.run(
                [sys.executable, __file__, "--child", store, where, str(source), str(size)],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            row = json.loads(out.stdout)
            results.append(row)
            print(json.dumps(row), flush=True)
    print(table(results))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1) + "\n")
    if args.plot:
        plot(results, args.plot)


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| store | records | import s | import peak MB | size MB | clean check µs | "
        "lookup µs | lookups codes/s | re-screening codes/s | 1M re-screened s |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [
        f"| {r['store']} | {r['records']:,} | {r['import_s']} | {r['import_peak_rss_mb']} | "
        f"{r['size_mb']} | {r['clean_check_us']} | {r['clean_lookup_us']} | "
        f"{r['screen_rate_per_s']:,} | {r['decided_rate_per_s']:,} | "
        f"{r['decided_1m_s_extrapolated']} |"
        for r in rows
    ]
    return "\n".join([head, *lines])


def plot(rows: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("import_s", "import (s)"),
        ("size_mb", "store size (MB)"),
        ("clean_check_us", "clean check (µs)"),
        ("decided_rate_per_s", "re-screening (codes/s)"),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    for ax, (key, title) in zip(axes, panels, strict=True):
        for store in sorted({r["store"] for r in rows}):
            pts = sorted((r["records"], r[key]) for r in rows if r["store"] == store)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=store)
        ax.set_xscale("log")
        if key in ("import_s", "size_mb"):
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)  # from zero: run-to-run noise must not look like growth
        ax.set_title(title)
        ax.set_xlabel("records in the mirror")
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
