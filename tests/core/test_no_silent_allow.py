"""'Could not get the records' never becomes allow with verified=True — one test per source type.

Each source type fails the way it really fails: a mirror that was never
loaded, is too old or was deleted; the platform over loopback HTTP, down; an
agency (Tianyancha) over loopback HTTP answering 503; a plugin's LocalSource
or HttpSource that raises. Under the default policy (hold) the decision is
unverified and held for review; under ``allow`` it is allowed but flagged
unverified; ``stale`` without a cached copy falls back to hold.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _coredata import ORG_BLACK, REGION, measure_lists

from creditguard.config import config_from_dict
from creditguard.errors import RecordsUnavailable
from creditguard.guard import AsyncGuard, Guard
from creditguard.mirror import SqliteMirror
from creditguard.models import Decision
from creditguard.testing import Fault, ReferencePlatform
from creditguard.testing.server import RunningServer, serve

POLICIES = ["hold", "allow", "stale"]


def assert_not_silent(d: Decision, policy: str, source: str) -> None:
    assert d.verified is False, d
    assert d.degraded_reason and source in d.degraded_reason
    failed = [p for p in d.provenance if p.source == source]
    assert failed and failed[0].error
    if policy == "allow":
        assert d.outcome == "allow"  # what "allow" means: let through, flagged unverified
    else:
        assert d.outcome == "review"  # hold, and stale with nothing cached to fall back on


def guard_for(
    tmp_path: Path,
    policy: str,
    *,
    sources: list[dict[str, Any]] | None = None,
    objects: Sequence[Any] | None = None,
    plugins: Sequence[object] = (),
) -> Guard:
    raw: dict[str, Any] = {
        "guard": {"data_dir": str(tmp_path / "var"), "deadline_ms": 600, "cache_ttl_s": 0},
        "measures": {"packs": False},
        "journal": {"enabled": False},
        "failure": {"default": policy},
    }
    if sources is not None:
        raw["sources"] = sources
    cfg = config_from_dict(raw, base_dir=tmp_path)
    return Guard(
        cfg,
        sources=objects,
        measure_lists=measure_lists(),
        plugins=plugins,
        load_entrypoints=False,
    )


def check(guard: Guard) -> Decision:
    try:
        return guard.check(ORG_BLACK, step="procurement.bid", region=REGION)
    finally:
        guard.close()


# --- the mirror ------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES)
def test_mirror_never_loaded(tmp_path: Path, policy: str) -> None:
    d = check(guard_for(tmp_path, policy, sources=[{"name": "mirror", "type": "mirror"}]))
    assert_not_silent(d, policy, "mirror")


@pytest.mark.parametrize("policy", POLICIES)
def test_mirror_path_typo(tmp_path: Path, records_file: Path, policy: str) -> None:
    real = SqliteMirror(tmp_path / "var" / "mirror.db")
    real.import_jsonl(records_file)
    real.close()
    src = [{"name": "mirror", "type": "mirror", "path": "var/mirorr.db"}]
    assert_not_silent(check(guard_for(tmp_path, policy, sources=src)), policy, "mirror")


@pytest.mark.parametrize("policy", POLICIES)
def test_mirror_too_old(tmp_path: Path, records_file: Path, policy: str) -> None:
    now = [1_000_000.0]
    m = SqliteMirror(tmp_path / "m.db", max_age_s=3600, clock=lambda: now[0])
    m.import_jsonl(records_file)
    now[0] += 3601  # a day's cron job did not run
    assert_not_silent(check(guard_for(tmp_path, policy, objects=[m])), policy, "mirror")
    m.close()


@pytest.mark.parametrize("policy", POLICIES)
def test_mirror_file_deleted(tmp_path: Path, records_file: Path, policy: str) -> None:
    path = tmp_path / "m.db"
    m = SqliteMirror(path)
    m.import_jsonl(records_file)
    m.close()
    for f in tmp_path.glob("m.db*"):
        f.unlink()
    m2 = SqliteMirror(path)
    assert_not_silent(check(guard_for(tmp_path, policy, objects=[m2])), policy, "mirror")
    m2.close()


# --- the platform over loopback --------------------------------------------------------------


@pytest.fixture
def platform_server() -> Iterator[tuple[ReferencePlatform, RunningServer]]:
    ref = ReferencePlatform()
    ref.add_record(ORG_BLACK, list_kind="blacklist", domain="court_enforcement")
    with serve(ref) as running:
        yield ref, running


def platform_source(url: str) -> dict[str, Any]:
    return {
        "name": "jiangsu",
        "type": "platform",
        "base_url": url,
        "app_key": "test-key",
        "secret": "test-secret",
    }


@pytest.mark.integration
@pytest.mark.parametrize("policy", POLICIES)
def test_platform_down_over_loopback(
    tmp_path: Path, platform_server: tuple[ReferencePlatform, RunningServer], policy: str
) -> None:
    from creditguard_platform import plugin as platform_plugin

    ref, server = platform_server
    g = guard_for(
        tmp_path, policy, sources=[platform_source(server.url)], plugins=[platform_plugin]
    )
    with ref.inject(Fault.down()):
        d = check(g)
    assert_not_silent(d, policy, "jiangsu")
    assert "test-secret" not in (d.degraded_reason or "")


@pytest.mark.integration
def test_platform_up_over_loopback_is_verified(
    tmp_path: Path, platform_server: tuple[ReferencePlatform, RunningServer]
) -> None:
    # The control: the same set-up with the platform up gives the real, verified answer.
    from creditguard_platform import plugin as platform_plugin

    _ref, server = platform_server
    g = guard_for(
        tmp_path, "hold", sources=[platform_source(server.url)], plugins=[platform_plugin]
    )
    d = check(g)
    assert d.verified and d.outcome == "deny"


# --- an agency over loopback -----------------------------------------------------------------


class _Unavailable(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"error_code": 300000, "reason": "busy"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def agency_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
@pytest.mark.parametrize("policy", POLICIES)
def test_agency_unavailable_over_loopback(tmp_path: Path, agency_url: str, policy: str) -> None:
    from creditguard_tianyancha import plugin as tyc_plugin

    src = {
        "name": "tianyancha",
        "type": "tianyancha",
        "base_url": agency_url,
        "token": "tyc-test-token",
    }
    d = check(guard_for(tmp_path, policy, sources=[src], plugins=[tyc_plugin]))
    assert_not_silent(d, policy, "tianyancha")
    assert "tyc-test-token" not in (d.degraded_reason or "")


# --- a plugin's own sources ------------------------------------------------------------------


class RaisingLocal:
    """A plugin's LocalSource with a bug: raises a plain RuntimeError."""

    name = "plugin-local"

    def lookup(self, codes: Sequence[str], *, include_related: bool = False) -> Any:
        raise RuntimeError("database is locked")


class SilentLocal:
    """A LocalSource that answers, but not about the subject asked."""

    name = "plugin-silent"

    def lookup(self, codes: Sequence[str], *, include_related: bool = False) -> Any:
        return {}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("source", [RaisingLocal, SilentLocal])
def test_plugin_local_source_that_fails(tmp_path: Path, policy: str, source: type) -> None:
    src = source()
    d = check(guard_for(tmp_path, policy, objects=[src]))
    assert_not_silent(d, policy, src.name)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_guard_same_for_a_raising_local_source(tmp_path: Path) -> None:
    cfg = config_from_dict(
        {"guard": {"data_dir": str(tmp_path)}, "measures": {"packs": False}},
        base_dir=tmp_path,
    )
    async with AsyncGuard(
        cfg, sources=[RaisingLocal()], measure_lists=measure_lists(), load_entrypoints=False
    ) as g:
        d = await g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert_not_silent(d, "hold", "plugin-local")


def test_raise_policy_raises_instead(tmp_path: Path) -> None:
    with pytest.raises(RecordsUnavailable):
        check(guard_for(tmp_path, "raise", objects=[RaisingLocal()]))


class BuggyHttp:
    """A plugin's HttpSource whose parsing has a bug (a KeyError on a 200 body)."""

    name = "plugin-http"
    max_batch = 100

    def __init__(self, url: str) -> None:
        self.base_url = url

    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Any:
        import httpx

        response = yield httpx.Request("POST", f"{self.base_url}/v1/x", json={"codes": list(codes)})
        del response
        raise KeyError("results")


@pytest.mark.integration
@pytest.mark.parametrize("policy", POLICIES)
def test_plugin_http_source_with_a_bug(tmp_path: Path, agency_url: str, policy: str) -> None:
    d = check(guard_for(tmp_path, policy, objects=[BuggyHttp(agency_url)]))
    assert_not_silent(d, policy, "plugin-http")
