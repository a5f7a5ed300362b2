"""Throughput of ``creditguard serve`` against a warm mirror, and its added latency over a library check.

Run with ``.venv/bin/python benchmarks/bench_serve.py [--seconds 10] [--clients 8] [--workers 1]``.

Method (docs/performance.md, "The decision service"): a temporary unit with a
SQLite mirror of 2,000 organisations (one in ten listed), a Nanjing measure
list, the journal on and case opening off (``open_case: false``: a preview,
so no outbox write per check). ``--workers`` ``creditguard serve`` processes
(real uvicorn) listen on loopback; a load generator in a *separate process*
runs ``--clients`` threads, each with one keep-alive HTTP connection, posting
``/v1/check`` for subjects in turn for ``--seconds``. Checks per second is
answered 200s over the wall time. Added latency: one client, one request at a
time, median round trip through the service minus the median of the same
check made in process with a guard built from the same unit file.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from creditguard import Guard
from creditguard.codes import org_code_check_char, uscc_check_char
from creditguard.config import load_config
from creditguard.mirror import SqliteMirror
from creditguard.models import CreditRecord, Subject

TOKEN = "bench-token-0123456789abcdef"
SUBJECTS = 2000
BODY = {"step": "procurement.bid", "region": "320100", "open_case": False}

_LIST = """region = "320100"
version = "2026.1"
issued_by = "测试信用办"
published_on = 2026-01-01
effective_from = 2026-01-01

[[measures]]
code = "NJ-01"
title = "限制参加政府采购活动"
category = "rights_limiting"
legal_basis = [{ title = "《中华人民共和国政府采购法》", article = "第七十七条", level = "law" }]
applies_to = { list_kinds = ["blacklist"], domains = ["procurement"], steps = ["procurement.*"] }
effect = "deny"
"""


def uscc(n: int) -> str:
    body = f"BE{n:06d}"
    first17 = "91320100" + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


def layout(root: Path) -> tuple[Path, Path, list[str]]:
    """Measure list, a warm mirror, the unit's file and the service file; the subject codes."""
    (root / "measures").mkdir()
    (root / "measures" / "320100.toml").write_text(_LIST, encoding="utf-8")
    data = root / "var"
    data.mkdir()
    mirror = SqliteMirror(data / "mirror.db")
    codes = [uscc(n) for n in range(SUBJECTS)]
    for n, code in enumerate(codes):
        subject = Subject(code=code, kind="organization", name=f"基准企业{n}")
        if n % 10 == 0:
            record = CreditRecord(
                record_id=f"R-{n}",
                list_kind="blacklist",
                domain="procurement",
                listed_on=date(2025, 1, 1),
                status="listed",
            )
            mirror.upsert(subject, record)
        # the other nine in ten are absent: a loaded mirror answers "no record", verified
    mirror.mark_imported()
    mirror.close()
    unit = root / "unit.toml"
    unit.write_text(
        f"""[guard]
unit_code = "320100-CG"
data_dir = "{data}"

[[sources]]
name = "mirror"
type = "mirror"
path = "{data / "mirror.db"}"

[measures]
files = ["measures/*.toml"]
packs = false

[outbox]
deliver = false
""",
        encoding="utf-8",
    )
    service = root / "service.toml"
    service.write_text(
        f"""[server]
feedback_key = "bench-feedback-key-0123456789abcdef0123"

[[units]]
code = "320100-CG"
config = "unit.toml"
regions = ["320100"]
steps = ["procurement.*"]

[[credentials]]
name = "bench"
unit = "320100-CG"
token = "{TOKEN}"
""",
        encoding="utf-8",
    )
    return unit, service, codes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_worker(service: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "creditguard"),
            "serve",
            "--config",
            str(service),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("creditguard serve did not start")


def load(urls: list[str], codes: list[str], clients: int, seconds: float, out: Any) -> None:
    """The load generator (its own process): ``clients`` threads with keep-alive connections."""
    done = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        url = urls[i % len(urls)]
        with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
            n = i
            while time.monotonic() < stop:
                r = http.post(
                    f"{url}/v1/check", json={"subject_code": codes[n % len(codes)], **BODY}
                )
                if r.status_code == 200:
                    done[i] += 1
                else:
                    errors[i] += 1
                n += clients

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({"ok": sum(done), "errors": sum(errors), "wall_s": time.monotonic() - started})


def round_trips(url: str, codes: list[str], n: int) -> list[float]:
    """Milliseconds per sequential request, one client."""
    out = []
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
        for i in range(n):
            t0 = time.perf_counter()
            r = http.post(f"{url}/v1/check", json={"subject_code": codes[i % len(codes)], **BODY})
            out.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
    return out


def in_process(unit: Path, codes: list[str], n: int) -> list[float]:
    """Milliseconds per library check, same unit file, same subjects."""
    guard = Guard(load_config(unit, required=True))
    try:
        for code in codes[:200]:
            guard.check(code, step=BODY["step"], region=BODY["region"], open_case=False)
        out = []
        for i in range(n):
            t0 = time.perf_counter()
            d = guard.check(
                codes[i % len(codes)], step=BODY["step"], region=BODY["region"], open_case=False
            )
            out.append((time.perf_counter() - t0) * 1000)
            assert d.verified, d.degraded_reason
        return out
    finally:
        guard.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cg-bench-serve-") as tmp:
        unit, service, codes = layout(Path(tmp))
        workers = [start_worker(service) for _ in range(args.workers)]
        try:
            urls = [u for _, u in workers]
            round_trips(urls[0], codes, 300)  # warm: connections, caches, the mirror's pages
            lib = in_process(unit, codes, 2000)
            rtt = round_trips(urls[0], codes, 2000)
            queue: Any = mp.get_context("spawn").Queue()
            gen = mp.get_context("spawn").Process(
                target=load, args=(urls, codes, args.clients, args.seconds, queue)
            )
            gen.start()
            result = queue.get(timeout=args.seconds + 120)
            gen.join()
        finally:
            for proc, _ in workers:
                proc.terminate()
                proc.wait(timeout=30)
    figures = {
        "workers": args.workers,
        "clients": args.clients,
        "cpus": os.cpu_count(),
        "checks_per_s": result["ok"] / result["wall_s"],
        "errors": result["errors"],
        "in_process_check_ms_p50": statistics.median(lib),
        "service_round_trip_ms_p50": statistics.median(rtt),
        "service_round_trip_ms_p95": statistics.quantiles(rtt, n=20)[18],
        "added_latency_ms_p50": statistics.median(rtt) - statistics.median(lib),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"{figures['checks_per_s']:.0f} checks/s through {args.workers} worker(s), "
        f"{args.clients} clients, {figures['errors']} errors ({figures['cpus']} CPUs)"
    )
    print(
        f"in-process check p50 {figures['in_process_check_ms_p50']:.3f} ms; through the service "
        f"p50 {figures['service_round_trip_ms_p50']:.3f} ms, p95 "
        f"{figures['service_round_trip_ms_p95']:.3f} ms; added p50 "
        f"{figures['added_latency_ms_p50']:.3f} ms"
    )


if __name__ == "__main__":
    main()
