"""The guard's contract: failure policies, typed errors, caching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_FOCUS, REP, DownSource, FlakySource

from creditguard import Guard
from creditguard.config import config_from_dict
from creditguard.errors import ConfigError, InputError, InvalidCodeError, RecordsUnavailable
from creditguard.mirror import SqliteMirror

GuardFactory = Any


def policy(default: str, **extra: Any) -> dict[str, Any]:
    return {"failure": {"default": default, **extra}}


def test_hold_policy_reviews_unverified(make_guard: GuardFactory) -> None:
    g = make_guard(policy("hold"), sources=[DownSource()])
    d = g.check(ORG_CLEAN, step="procurement.bid", region="320100")
    assert d.outcome == "review"
    assert d.verified is False
    assert d.degraded_reason is not None and "connection refused" in d.degraded_reason
    assert "platform" in d.degraded_reason
    [p] = d.provenance
    assert p.source == "platform" and not p.found and p.error and "connection refused" in p.error
    assert "信用信息暂未能核验" in d.explanation and "转人工核验" in d.explanation


def test_hold_keeps_a_stricter_outcome_from_other_sources(
    make_guard: GuardFactory, mirror: SqliteMirror
) -> None:
    g = make_guard(policy("hold"), sources=[mirror, DownSource()])
    d = g.check(ORG_BLACK, step="procurement.bid", region="320100")
    assert d.outcome == "deny" and d.verified is False
    assert [p.source for p in d.provenance] == ["mirror", "platform"]


def test_allow_policy_allows_but_flags(make_guard: GuardFactory) -> None:
    g = make_guard(policy("allow"), sources=[DownSource()])
    d = g.check(ORG_BLACK, step="procurement.bid", region="320100")
    assert d.outcome == "allow" and d.verified is False and d.degraded_reason


def test_raise_policy(make_guard: GuardFactory) -> None:
    g = make_guard(policy("raise"), sources=[DownSource()])
    with pytest.raises(RecordsUnavailable, match="connection refused") as info:
        g.check(ORG_BLACK, step="procurement.bid", region="320100")
    assert info.value.cause is not None


def test_policy_per_step_glob(make_guard: GuardFactory) -> None:
    g = make_guard(
        policy("hold", steps={"procurement.*": "raise", "subsidy.apply": "allow"}),
        sources=[DownSource()],
    )
    with pytest.raises(RecordsUnavailable):
        g.check(ORG_BLACK, step="procurement.bid", region="320100")
    assert g.check(ORG_BLACK, step="subsidy.apply", region="320100").outcome == "allow"
    assert g.check(ORG_BLACK, step="licensing.accept", region="320100").outcome == "review"


def test_stale_policy_uses_cached_records(make_guard: GuardFactory, mirror: SqliteMirror) -> None:
    src = FlakySource(mirror)
    g = make_guard({**policy("stale"), "guard": {"cache_ttl_s": 0}}, sources=[src])
    first = g.check(ORG_BLACK, step="procurement.bid", region="320100")
    assert first.outcome == "deny" and not first.stale
    src.failing = True
    d = g.check(ORG_BLACK, step="procurement.bid", region="320100")
    assert src.calls == 2  # ttl 0: the source was asked again
    assert d.outcome == "deny" and d.stale is True
    assert d.provenance[0].stale is True
    assert d.provenance[0].fetched_at == first.provenance[0].fetched_at
    assert "缓存" in d.explanation and "核验" in d.explanation
    # Stale is never presented as verified: the age travels with the decision.
    assert not d.verified and "used records fetched at" in (d.degraded_reason or "")
    assert d.stale_age_s is not None and d.stale_age_s >= 0
    data = d.model_dump(mode="json")
    assert data["verified"] is False and data["stale"] is True
    assert data["stale_age_s"] == d.stale_age_s


def test_stale_policy_falls_back_when_nothing_cached(
    make_guard: GuardFactory, mirror: SqliteMirror
) -> None:
    src = FlakySource(mirror, failing=True)
    g = make_guard(
        {**policy("stale", stale_fallback="hold"), "guard": {"cache_ttl_s": 0}}, sources=[src]
    )
    d = g.check(ORG_BLACK, step="procurement.bid", region="320100")
    assert d.outcome == "review" and d.verified is False and not d.stale
    g2 = make_guard(
        {**policy("stale", stale_fallback="raise"), "guard": {"cache_ttl_s": 0}}, sources=[src]
    )
    with pytest.raises(RecordsUnavailable):
        g2.check(ORG_BLACK, step="procurement.bid", region="320100")


def test_stale_data_older_than_max_stale_is_not_used(
    make_guard: GuardFactory, mirror: SqliteMirror
) -> None:
    src = FlakySource(mirror)
    g = make_guard({**policy("stale", max_stale_s=0), "guard": {"cache_ttl_s": 0}}, sources=[src])
    g.check(ORG_BLACK, step="procurement.bid", region="320100")
    src.failing = True
    d = g.check(ORG_BLACK, step="procurement.bid", region="320100")
    assert d.outcome == "review" and d.verified is False


def test_a_broken_local_store_is_a_source_failure(make_guard: GuardFactory) -> None:
    class Broken:
        name = "broken"

        def lookup(self, codes: Any, *, include_related: bool = False) -> Any:
            raise RuntimeError("disk I/O error")

    d = make_guard(policy("hold"), sources=[Broken()]).check(
        ORG_BLACK, step="procurement.bid", region="320100"
    )
    assert d.outcome == "review" and "disk I/O error" in (d.degraded_reason or "")


@pytest.mark.parametrize(
    "step", ["", "Procurement.Bid", "procurement bid", "procurement.*", ".bid", "bid."]
)
def test_bad_step(guard: Any, step: str) -> None:
    with pytest.raises(InputError, match="step"):
        guard.check(ORG_BLACK, step=step, region="320100")


@pytest.mark.parametrize("region", ["", "32010", "3201000", "32O100", "nanjing", "３２０１００"])
def test_bad_region(guard: Any, region: str) -> None:
    with pytest.raises(InputError, match="region"):
        guard.check(ORG_BLACK, step="procurement.bid", region=region)


@pytest.mark.parametrize(
    "code",
    [ORG_BLACK[:-1] + ("0" if ORG_BLACK[-1] != "0" else "1"), "91320100", "", "916201055811843000"],
)
def test_invalid_code(guard: Any, code: str) -> None:
    with pytest.raises(InvalidCodeError):
        guard.check(code, step="procurement.bid", region="320100")


def test_code_is_normalised(guard: Any) -> None:
    spaced = " " + ORG_BLACK[:6] + " " + ORG_BLACK[6:].lower() + " "
    d = guard.check(spaced, step="procurement.bid", region="320100")
    assert d.subject_code == ORG_BLACK and d.outcome == "deny"


def test_region_without_list(guard: Any) -> None:
    with pytest.raises(ConfigError, match="110000"):
        guard.check(ORG_BLACK, step="procurement.bid", region="110000")


def test_bad_input_changes_nothing(make_guard: GuardFactory, mirror: SqliteMirror) -> None:
    src = FlakySource(mirror)
    g = make_guard(sources=[src])
    with pytest.raises(InputError):
        g.check(ORG_BLACK, step="", region="320100")
    assert src.calls == 0 and len(g.cache) == 0


def test_cache_spares_the_source(make_guard: GuardFactory, mirror: SqliteMirror) -> None:
    src = FlakySource(mirror)
    g = make_guard(sources=[src])
    a = g.check(ORG_BLACK, step="procurement.bid", region="320100")
    b = g.check(ORG_BLACK, step="subsidy.apply", region="320100")
    assert src.calls == 1
    assert b.provenance[0].fetched_at == a.provenance[0].fetched_at
    g.check(ORG_FOCUS, step="procurement.bid", region="320100")
    assert src.calls == 2


def test_related_lookups_cached_separately(make_guard: GuardFactory, mirror: SqliteMirror) -> None:
    src = FlakySource(mirror)
    g = make_guard(sources=[src])
    assert g.check(REP, step="procurement.bid", region="320100").outcome == "allow"
    assert g.check(REP, step="appointment.qualify", region="320100").outcome == "deny"
    assert src.calls == 2
    g.check(REP, step="appointment.qualify", region="320100")
    assert src.calls == 2


def test_invalidate_forces_a_refetch(make_guard: GuardFactory, mirror: SqliteMirror) -> None:
    src = FlakySource(mirror)
    g = make_guard(sources=[src])
    assert g.check(ORG_BLACK, step="procurement.bid", region="320100").outcome == "deny"
    mirror.remove("JS-BL-1", subject_code=ORG_BLACK)
    assert g.check(ORG_BLACK, step="procurement.bid", region="320100").outcome == "deny"  # cached
    assert g.invalidate(ORG_BLACK) == 1
    assert g.invalidate(ORG_BLACK) == 0
    assert g.check(ORG_BLACK, step="procurement.bid", region="320100").outcome == "allow"
    assert src.calls == 2


def test_two_sources_with_one_name_are_refused(
    make_guard: GuardFactory, mirror: SqliteMirror
) -> None:
    with pytest.raises(ConfigError, match="mirror"):
        make_guard(sources=[mirror, FlakySource(mirror)])


def test_guard_from_config_file(tmp_path: Path, mirror: SqliteMirror, lists: Any) -> None:
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text(
        '[guard]\ndata_dir = "."\n[measures]\npacks = false\n[[sources]]\nname = "local"\n'
        'type = "mirror"\npath = "mirror.db"\n',
        encoding="utf-8",
    )
    with Guard.from_config(cfg, measure_lists=lists, load_entrypoints=False) as g:
        assert list(g.sources) == ["local"]
        assert g.check(ORG_BLACK, step="procurement.bid", region="320100").outcome == "deny"


def test_unknown_source_type_message(tmp_path: Path) -> None:
    cfg = config_from_dict(
        {"guard": {"data_dir": str(tmp_path)}, "sources": [{"name": "p", "type": "platfrom"}]}
    )
    with pytest.raises(ConfigError) as info:
        Guard(cfg, load_entrypoints=False)
    msg = str(info.value)
    assert "'p'" in msg and "platfrom" in msg and "mirror" in msg and "installed" in msg


def test_unknown_mirror_option(tmp_path: Path) -> None:
    cfg = config_from_dict(
        {
            "guard": {"data_dir": str(tmp_path)},
            "sources": [{"name": "m", "type": "mirror", "pth": "x.db"}],
        }
    )
    with pytest.raises(ConfigError, match="pth"):
        Guard(cfg, load_entrypoints=False)


def test_threads_share_one_guard(guard: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(
                lambda _: guard.check(ORG_BLACK, step="procurement.bid", region="320100").outcome,
                range(64),
            )
        )
    assert set(outcomes) == {"deny"}


def test_source_order_holds_when_one_source_is_stale(
    make_guard: GuardFactory, mirror: SqliteMirror, tmp_path: Path
) -> None:
    from _coredata import mirror_rows, write_jsonl

    second = SqliteMirror(tmp_path / "second.db", name="platform")
    second.import_jsonl(write_jsonl(tmp_path / "second.jsonl", mirror_rows()[:1]))
    first = FlakySource(mirror)
    g = make_guard({**policy("stale"), "guard": {"cache_ttl_s": 0}}, sources=[first, second])
    cold = g.check(ORG_BLACK, step="procurement.bid", region="320100")
    first.failing = True
    warm = g.check(ORG_BLACK, step="procurement.bid", region="320100")
    assert warm.stale and not cold.stale
    for d in (cold, warm):
        assert [p.source for p in d.provenance] == ["mirror", "platform"]
        assert [(er.record.record_id, er.source) for er in d.records] == [("JS-BL-1", "mirror")]
    second.close()


# -- the step logic both guards share (creditguard._stepflow) -------------------------------


def test_stepflow_decides_when_a_step_is_fed_back(make_guard: GuardFactory) -> None:
    from creditguard._stepflow import feeds_back, opens_case
    from creditguard.case_desk import StepDenied

    g = make_guard()
    listed = g.check(ORG_BLACK, step="procurement.bid", region="320100")
    clean = g.check(ORG_CLEAN, step="procurement.bid", region="320100")
    desk: Any = object()  # only "is there a case desk" matters to these rules
    assert feeds_back(desk, listed, None) and feeds_back(desk, listed, StepDenied(listed))
    assert not feeds_back(desk, listed, RuntimeError("step crashed"))  # the case stays open
    assert not feeds_back(desk, clean, None) and not feeds_back(None, listed, None)
    assert opens_case(desk, listed, open_case=True)
    assert not opens_case(desk, listed, open_case=False) and not opens_case(
        desk, clean, open_case=True
    )


def test_step_decorator_refuses_deny_and_hands_over_the_decision(make_guard: GuardFactory) -> None:
    from creditguard import StepDenied

    g = make_guard()
    ran: list[tuple[str, str]] = []

    @g.step("procurement.bid", region="320100", subject=lambda app, **_: app["code"])
    def bid(app: dict[str, str], decision: Any = None) -> str:
        ran.append((app["code"], decision.outcome))
        return "submitted"

    assert bid({"code": ORG_CLEAN}) == "submitted"
    assert ran == [(ORG_CLEAN, "allow")]
    with pytest.raises(StepDenied) as info:
        bid({"code": ORG_BLACK})
    assert info.value.decision.outcome == "deny" and ran == [(ORG_CLEAN, "allow")]


@pytest.mark.anyio
async def test_async_step_decorator_refuses_deny_and_hands_over_the_decision(
    make_async_guard: GuardFactory,
) -> None:
    from creditguard import StepDenied

    g = make_async_guard()

    @g.step("procurement.bid", region="320100", subject=ORG_BLACK)
    async def bid_black() -> str:
        return "submitted"

    @g.step("procurement.bid", region="320100", subject=lambda code: code)
    async def bid(code: str, decision: Any = None) -> str:
        return decision.outcome

    with pytest.raises(StepDenied):
        await bid_black()
    assert await bid(ORG_CLEAN) == "allow"
