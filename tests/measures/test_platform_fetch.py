"""Measure lists from the platform through configuration alone (spec §5.1, §7), over loopback HTTP.

``creditguard sync`` fetches the lists of ``[measures] platform_regions`` from
the reference platform, keeps the last good one, refetches after a
``measure_list.published`` push; guards built afterwards load it with origin
``platform``; a region configured from the platform with no list yet refuses
checks instead of falling back to the list above it.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from creditguard import Guard
from creditguard.channels import FetchedList, list_channel
from creditguard.cli import main
from creditguard.config import config_from_dict, load_config
from creditguard.errors import ConfigError
from creditguard.explain import explain
from creditguard.measures.installed import build_catalog
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET, ReferencePlatform, serve

ORG = "91320100MA1W2K7D41"
TAX_ORG = "91320100MA1X3L8E8M"  # a tax blacklist record only
ENV = {"CG_TEST_PLATFORM_SECRET": DEFAULT_SECRET}

S01 = {
    "code": "S-01",
    "title": "列入政府采购严重违法失信行为记录名单期间禁止参加政府采购活动",
    "category": "rights_limiting",
    "legal_basis": ["《中华人民共和国政府采购法》第七十七条"],
    "source": "statute",
    "applies_to": {
        "list_kinds": ["blacklist"],
        "domains": ["procurement"],
        "steps": ["procurement.*"],
    },
    "effect": "deny",
    "extends_to": [],
}
# A rights-limiting measure resting on an instrument nobody knows: refused, never guessed.
BAD = {
    "code": "NJ-09",
    "title": "依据不明的限制",
    "category": "rights_limiting",
    "legal_basis": ["《随便什么法》第一条"],
    "applies_to": {"list_kinds": ["blacklist"], "steps": ["subsidy.*"]},
    "effect": "restrict",
}


def nanjing(version: str = "2026.1", *measures: dict[str, Any], **head: Any) -> dict[str, Any]:
    return {
        "region": "320100",
        "version": version,
        "effective_from": "2026-03-01",
        "issued_by": "南京市社会信用体系建设领导小组办公室",
        "measures": list(measures or (S01,)),
        **head,
    }


def write_config(tmp: Path, url: str, *, measures: str = "") -> Path:
    cfg = tmp / "creditguard.toml"
    cfg.write_text(
        f"""[guard]
data_dir = "var"

[[sources]]
name = "mirror"
type = "mirror"

[[sources]]
name = "platform"
type = "platform"
base_url = "{url}"
app_key = "{DEFAULT_APP_KEY}"
secret_env = "CG_TEST_PLATFORM_SECRET"

[measures]
packs = false
platform_regions = ["320100"]
{measures}

[outbox]
enabled = false
""",
        encoding="utf-8",
    )
    return cfg


def sync(cfg: Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, ["sync", "--config", str(cfg), "--json"], env=ENV)
    try:
        return result.exit_code, json.loads(result.output)
    except ValueError:
        raise AssertionError(result.output) from None


def mirror_guard(cfg: Path) -> Guard:
    """A guard on the same data_dir, reading the mirror only (the check needs no network)."""
    config = load_config(cfg)
    sources = tuple(s for s in config.sources if s.type == "mirror")
    return Guard(config.model_copy(update={"sources": sources}), journal=False)


@pytest.fixture
def platform() -> ReferencePlatform:
    return ReferencePlatform()


@pytest.mark.integration
def test_sync_fetches_keeps_and_the_guard_applies_the_platform_list(
    tmp_path: Path, platform: ReferencePlatform
) -> None:
    platform.set_measure_list(nanjing("2026.1", S01, BAD))
    platform.add_record(ORG, domain="procurement", push=True)
    with serve(platform) as server:
        cfg = write_config(tmp_path, server.url)
        code, out = sync(cfg)
        assert code == 0, out
        (fetched,) = out["measure_lists"]
        assert (fetched["region"], fetched["status"], fetched["version"]) == (
            "320100",
            "activated",
            "2026.1",
        )
        assert {r["measure"] for r in fetched["rejected"]} == {"NJ-09"}
        kept = tmp_path / "var" / "measure-lists" / "320100.json"
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        # Unchanged on the platform: a conditional GET, answered 304.
        code, out = sync(cfg)
        assert code == 0 and out["measure_lists"][0]["status"] == "unchanged"

    guard = mirror_guard(cfg)
    origin = guard.catalog.origin("320100", "2026.1")
    assert origin is not None and origin.kind == "platform"
    assert {p.measure for p in guard.catalog.refused[("320100", "2026.1")]} == {"NJ-09"}
    decision = guard.check(ORG, step="procurement.bid", region="320100")
    assert decision.outcome == "deny" and [m.code for m in decision.measures] == ["S-01"]
    assert decision.list_version == "2026.1"
    # The decision's provenance names the measure it was judged without: the officer's
    # text says so, the applicant's does not (it is no measure of theirs).
    assert decision.list_refused == ("NJ-09",)
    officer = explain(decision, audience="officer")
    assert "NJ-09" in officer and "未通过校验" in officer
    assert "NJ-09" not in decision.explanation and "未通过校验" not in decision.explanation
    # The refused measure is never applied, at the step it names either.
    assert guard.check(ORG, step="subsidy.apply", region="320100").measures == ()

    shown = CliRunner().invoke(
        main, ["measures", "show", "--config", str(cfg), "--region", "320100", "--json"]
    )
    assert shown.exit_code == 0, shown.output
    (link,) = json.loads(shown.output)["chain"]
    assert link["origin"].startswith("platform ")
    assert {r["measure"] for r in link["refused"]} == {"NJ-09"}
    text = (
        CliRunner()
        .invoke(main, ["measures", "show", "--config", str(cfg), "--region", "320100"])
        .output
    )
    assert "from platform" in text and "not applied: NJ-09" in text


# Refuses tax-list suppliers on 政府采购法 Art 22 alone: that article concerns 重大违法记录
# (实施条例 Art 19), not list entries, so it does not carry the measure (rule 11f).
ART22 = {
    "code": "NJ-22",
    "title": "拒绝参加政府采购活动",
    "category": "rights_limiting",
    "legal_basis": ["《中华人民共和国政府采购法》第二十二条"],
    "applies_to": {"list_kinds": ["blacklist"], "domains": ["tax"], "steps": ["procurement.*"]},
    "effect": "deny",
}


@pytest.mark.integration
def test_platform_measure_on_a_basis_that_does_not_carry_it_is_not_applied(
    tmp_path: Path, platform: ReferencePlatform
) -> None:
    platform.set_measure_list(nanjing("2026.1", S01, ART22))
    platform.add_record(ORG, domain="procurement", push=True)
    platform.add_record(TAX_ORG, domain="tax", push=True)
    with serve(platform) as server:
        cfg = write_config(tmp_path, server.url)
        code, out = sync(cfg)
        assert code == 0, out
        (fetched,) = out["measure_lists"]
        assert fetched["status"] == "activated"
        (rejected,) = fetched["rejected"]
        assert rejected["measure"] == "NJ-22"
        assert "basis does not carry the measure" in json.dumps(rejected, ensure_ascii=False)

    guard = mirror_guard(cfg)
    assert {p.measure for p in guard.catalog.refused[("320100", "2026.1")]} == {"NJ-22"}
    # The rest of the list applies.
    decision = guard.check(ORG, step="procurement.bid", region="320100")
    assert decision.outcome == "deny" and [m.code for m in decision.measures] == ["S-01"]
    assert decision.list_refused == ("NJ-22",)
    # The refused measure does not, though the record it names is there.
    taxed = guard.check(TAX_ORG, step="procurement.bid", region="320100")
    assert [er.record.domain for er in taxed.records] == ["tax"]
    assert taxed.verified and taxed.measures == () and taxed.list_refused == ("NJ-22",)
    shown = CliRunner().invoke(
        main, ["measures", "show", "--config", str(cfg), "--region", "320100"]
    )
    assert shown.exit_code == 0 and "not applied: NJ-22" in shown.output


@pytest.mark.integration
def test_malformed_list_is_refused_and_the_last_good_one_stays(
    tmp_path: Path, platform: ReferencePlatform
) -> None:
    platform.set_measure_list(nanjing("2026.1"))
    with serve(platform) as server:
        cfg = write_config(tmp_path, server.url)
        assert sync(cfg)[0] == 0
        # The list's own fields are invalid: never activated, whatever its measures.
        platform.set_measure_list(nanjing("2026.2", effective_from="not a date"))
        code, out = sync(cfg)
        assert code == 1
        (fetched,) = out["measure_lists"]
        assert fetched["status"] == "refused" and fetched["version"] == "2026.1"
        assert "effective_from" in fetched["error"]
        # A body that is not a list at all: the platform misbehaving, nothing changes.
        platform.set_measure_list({"region": "320100", "version": "x", "measures": "none"})
        code, out = sync(cfg)
        assert code == 1 and out["measure_lists"][0]["status"] == "refused"
    guard = mirror_guard(cfg)
    assert [lst.version for lst in guard.catalog.versions("320100")] == ["2026.1"]


@pytest.mark.integration
def test_push_event_makes_sync_refetch_the_region(
    tmp_path: Path, platform: ReferencePlatform
) -> None:
    platform.set_measure_list(nanjing("2026.1"))
    with serve(platform) as server:
        cfg = write_config(tmp_path, server.url)
        assert sync(cfg)[1]["measure_lists"][0]["trigger"] == "sync"
        platform.set_measure_list(nanjing("2026.2", S01, BAD))
        platform.push_event("measure_list.published", region="320100", version="2026.2")
        platform.push_event("measure_list.published", region="110000", version="9")
        code, out = sync(cfg)
        assert code == 0, out
        by_region = {f["region"]: f for f in out["measure_lists"]}
        assert by_region["320100"]["trigger"] == "push"
        assert (by_region["320100"]["status"], by_region["320100"]["version"]) == (
            "activated",
            "2026.2",
        )
        # A region this unit does not take from the platform is named, not fetched.
        assert by_region["110000"]["status"] == "not_configured"
        assert out["by_type"]["measure_list.published"] == 2
    assert mirror_guard(cfg).catalog.versions("320100")[0].version == "2026.2"


@pytest.mark.integration
def test_platform_outage_changes_nothing_kept(tmp_path: Path, platform: ReferencePlatform) -> None:
    with serve(platform) as server:
        cfg = write_config(tmp_path, server.url)
        code, out = sync(cfg)  # the platform has no list for the region: 404
    assert code == 1
    (fetched,) = out["measure_lists"]
    assert fetched["status"] == "unavailable" and fetched["version"] is None
    assert not (tmp_path / "var" / "measure-lists" / "320100.json").exists()


def test_region_awaited_from_the_platform_refuses_checks(tmp_path: Path) -> None:
    """No list fetched yet: never judged on the list above (here the national one)."""
    national = nanjing("2026.1", region="000000", issued_by="测试")
    config = config_from_dict(
        {
            "guard": {"data_dir": str(tmp_path)},
            "sources": [{"name": "mirror", "type": "mirror"}],
            "measures": {"packs": False, "platform_regions": ["320100"]},
        }
    )
    from creditguard.models import MeasureList

    guard = Guard(config, measure_lists=[MeasureList.model_validate(national)], journal=False)
    with pytest.raises(ConfigError, match=r"320100.*creditguard sync"):
        guard.check(ORG, step="procurement.bid", region="320100")
    with pytest.raises(ConfigError, match="320100"):
        guard.check(ORG, step="procurement.bid", region="320102")  # governed by 320100
    # Elsewhere the national list still governs.
    assert guard.check(ORG, step="procurement.bid", region="330100").list_region == "000000"
    assert any("awaited" in n for n in guard.catalog.notes)


def test_file_for_a_platform_region_is_a_conflict(tmp_path: Path) -> None:
    own = tmp_path / "nj.json"
    own.write_text(json.dumps(nanjing("2026.1"), ensure_ascii=False), encoding="utf-8")
    config = config_from_dict(
        {
            "guard": {"data_dir": str(tmp_path)},
            "measures": {"packs": False, "files": [str(own)], "platform_regions": ["320100"]},
        }
    )
    with pytest.raises(ConfigError, match=r"conflict.*320100.*platform_regions"):
        build_catalog(config, None)


def test_channel_without_lists_is_named() -> None:
    class NoLists:
        name = "provx"

    with pytest.raises(ConfigError, match="'provx' cannot fetch measure lists"):
        list_channel(NoLists())


def test_platform_channel_reads_lists_as_sent() -> None:
    from creditguard_platform import PlatformChannel

    channel = PlatformChannel("p", "http://platform.test/api", DEFAULT_APP_KEY, DEFAULT_SECRET)
    assert isinstance(list_channel(channel), PlatformChannel)
    request = channel.measure_list_request("320100", etag='W/"1"')
    assert request.url.path == "/api/v1/measure-lists/320100"
    assert request.headers["if-none-match"] == 'W/"1"'
    body = nanjing("2026.1", BAD)
    got = channel.read_measure_list(httpx.Response(200, json=body, headers={"ETag": 'W/"2"'}))
    assert got == FetchedList(body, 'W/"2"')
    assert channel.read_measure_list(httpx.Response(304)).not_modified


def test_platform_measure_widening_its_parent_is_dropped_and_named(tmp_path: Path) -> None:
    """Judged together with the installed lists, a failing platform measure is left out, not fatal."""
    from creditguard.measures.platform_lists import PlatformListStore, accept_platform_list

    province = dict(nanjing("2026.1", S01), region="320000", issued_by="江苏省")
    own = tmp_path / "js.json"
    own.write_text(json.dumps(province, ensure_ascii=False), encoding="utf-8")
    # Wider than the province's S-01 by related persons (its basis still carries it:
    # wider steps would be refused on its own, rule 11f, before any parent is read).
    wider = {**S01, "extends_to": ["legal_representative"]}
    kept = accept_platform_list(
        nanjing("2026.1", wider, dict(S01, code="NJ-01"), extends="320000"), name="platform"
    )
    assert [m.code for m in kept.measure_list.measures] == ["S-01", "NJ-01"]
    PlatformListStore(tmp_path / "measure-lists").save(kept)
    config = config_from_dict(
        {
            "guard": {"data_dir": str(tmp_path)},
            "measures": {"packs": False, "files": [str(own)], "platform_regions": ["320100"]},
        }
    )
    catalog = build_catalog(config, None)
    (nj,) = catalog.versions("320100")
    assert [m.code for m in nj.measures] == ["NJ-01"]
    assert {p.measure for p in catalog.refused[("320100", "2026.1")]} == {"S-01"}
    # The province's own S-01 still governs Nanjing through extends.
    assert nj.effective_from is not None
    resolved = catalog.resolve("320100", nj.effective_from)
    codes = {rm.measure.code: rm.list_region for rm in resolved.measures}
    assert codes == {"NJ-01": "320100", "S-01": "320000"}


# --- the guard fetches too (spec §5.1: "the guard (and creditguard sync) fetches") -------


def platform_guard(cfg: Path) -> Guard:
    return Guard(load_config(cfg), journal=False)


@pytest.mark.integration
def test_guard_construction_fetches_a_missing_list_then_keeps_it(
    tmp_path: Path, platform: ReferencePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_TEST_PLATFORM_SECRET", DEFAULT_SECRET)
    platform.set_measure_list(nanjing("2026.1", S01, BAD))
    platform.add_record(ORG, domain="procurement")
    with serve(platform) as server:
        cfg = write_config(tmp_path, server.url)
        guard = platform_guard(cfg)  # no 'creditguard sync' ran
        (fetched,) = guard.list_fetches
        assert (fetched.region, fetched.status, fetched.trigger) == ("320100", "activated", "start")
        origin = guard.catalog.origin("320100", "2026.1")
        assert origin is not None and origin.kind == "platform"
        d = guard.check(ORG, step="procurement.bid", region="320100")
        assert d.outcome == "deny" and d.list_refused == ("NJ-09",)
        guard.close()
        asked = len(platform.requests_log)
        # Kept and fresh: the next guard asks nothing.
        again = platform_guard(cfg)
        assert again.list_fetches == []
        assert not [r for r in platform.requests_log[asked:] if "measure" in r.path]
        again.close()


@pytest.mark.integration
def test_guard_construction_keeps_the_last_good_list_when_the_platform_fails(
    tmp_path: Path, platform: ReferencePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_TEST_PLATFORM_SECRET", DEFAULT_SECRET)
    platform.set_measure_list(nanjing("2026.1"))
    with serve(platform) as server:
        cfg = write_config(tmp_path, server.url, measures="platform_refresh_s = 0.0")
        assert sync(cfg)[0] == 0
        # Refresh on every construction, and the platform now sends a list it must refuse.
        cfg = write_config(tmp_path, server.url, measures="platform_refresh_s = 1e-9")
        platform.set_measure_list(nanjing("2026.2", S01, effective_from="not a date"))
        guard = platform_guard(cfg)
        (fetched,) = guard.list_fetches
        assert fetched.status == "refused" and fetched.version == "2026.1"
        assert guard.catalog.versions("320100")[-1].version == "2026.1"
        guard.close()


@pytest.mark.integration
def test_guard_construction_with_no_list_anywhere_stays_fail_closed(
    tmp_path: Path, platform: ReferencePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_TEST_PLATFORM_SECRET", DEFAULT_SECRET)
    with serve(platform) as server:  # the platform has no list for the region: 404
        guard = platform_guard(write_config(tmp_path, server.url))
        (fetched,) = guard.list_fetches
        assert fetched.status == "unavailable" and fetched.version is None
        with pytest.raises(ConfigError, match=r"320100.*creditguard sync"):
            guard.check(ORG, step="procurement.bid", region="320100")
        guard.close()


def test_refresh_zero_leaves_fetching_to_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No server at all: a fetch would fail; with refresh 0 none is tried.
    monkeypatch.setenv("CG_TEST_PLATFORM_SECRET", DEFAULT_SECRET)
    guard = platform_guard(
        write_config(tmp_path, "http://127.0.0.1:9", measures="platform_refresh_s = 0.0")
    )
    assert guard.list_fetches == []
    guard.close()
