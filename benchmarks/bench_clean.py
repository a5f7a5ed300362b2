"""Where a clean subject's check against a large mirror goes: journal on/off, GC, the lookup alone.

Run against a mirror built by ``bench_scale.py`` (1,000,000 records by default),
and, to compare two versions under the same load, run it once per version
alternately (``PYTHONPATH=<tree>/src``; ``git archive <commit> src | tar -x -C <tree>``)::

    nice -n 10 .venv/bin/python benchmarks/bench_clean.py /tmp/creditguard-scale-1000000.db

Every check is of a distinct clean code (the decision memo never helps), cache
off; each batch of 3,000 is charged the CPU of the whole process until it is
idle again (the journal's writer included), as in ``bench_check.py``. Rounds
alternate the variants; medians of 9 rounds are printed as JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_check import forty_measures, wait_idle
from bench_import import uscc

from creditguard import Guard
from creditguard.config import config_from_dict
from creditguard.mirror import SqliteMirror


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mirror", help="a mirror written by bench_scale.py")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--offset", type=int, default=300_000, help="first clean code's number")
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    m = SqliteMirror(args.mirror)
    if hasattr(m, "load_filter"):  # older versions have no membership filter
        t = time.perf_counter()
        m.load_filter()
        print(f"filter built in {time.perf_counter() - t:.2f} s", file=sys.stderr)

    def guard(journal: bool) -> Guard:
        tmp = tempfile.mkdtemp()
        cfg = config_from_dict(
            {
                "guard": {"data_dir": tmp, "cache_ttl_s": 0},
                "journal": {"enabled": journal},
                "measures": {"packs": False},
            },
            base_dir=tmp,
        )
        return Guard(cfg, sources=[m], measure_lists=[forty_measures()], load_entrypoints=False)

    on, off = guard(True), guard(False)
    numbers = iter(range(args.records // 2 + args.offset, 10**9))

    def batch(g: Any, n: int = 3000) -> float:
        codes = [uscc(next(numbers)) for _ in range(n)]
        journals = (g.journal,) if g.journal is not None else ()
        t0 = time.process_time()
        for c in codes:
            g.check(c, step="procurement.bid", region="320100")
        wait_idle(journals)
        return (time.process_time() - t0) / n * 1e6

    def lookups(n: int = 3000) -> float:
        codes = [uscc(next(numbers)) for _ in range(n)]
        t0 = time.process_time()
        for c in codes:
            m.lookup([c])
        return (time.process_time() - t0) / n * 1e6

    for g in (on, off):
        batch(g, 1000)
    res: dict[str, list[float]] = {
        "journal on": [],
        "journal on, gc off": [],
        "journal off": [],
        "lookup only": [],
    }
    for _ in range(args.rounds):
        res["journal on"].append(batch(on))
        gc.disable()
        try:
            res["journal on, gc off"].append(batch(on))
        finally:
            gc.enable()
        res["journal off"].append(batch(off))
        res["lookup only"].append(lookups())
    print(json.dumps({k: round(statistics.median(v), 1) for k, v in res.items()}))
    on.close()
    off.close()


if __name__ == "__main__":
    main()
