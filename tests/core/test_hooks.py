"""The plugin hooks: every hook documented and tested, and each hook's behaviour."""

from __future__ import annotations

import ast
import functools
import inspect
import logging
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_FOCUS, REGION, DownSource, city_list_data

from creditguard import Guard, hookimpl, hookspecs
from creditguard.config import config_from_dict
from creditguard.errors import MeasureListError, PluginError
from creditguard.models import Measure, MeasureList
from creditguard.plugins import build_plugin_manager, plugin_infos
from creditguard.rules import applied

ROOT = Path(__file__).resolve().parents[2]
GuardFactory = Any


def hook_names() -> list[str]:
    return sorted(
        name
        for name, fn in vars(hookspecs).items()
        if name.startswith("creditguard_") and hasattr(fn, f"{hookspecs.PROJECT}_spec")
    )


def test_hook_names_found() -> None:
    assert "creditguard_decision_made" in hook_names() and len(hook_names()) >= 4


# -- enforcement: every hook is documented and tested ---------------------------------------


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_documented_and_tested(hook: str) -> None:
    doc = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^##+\s+`?(creditguard_\w+)`?\s*$", doc, flags=re.M))
    assert hook in headings, f"{hook} has no section in docs/hooks.md"
    assert hook in _hooks_mentioned_in_tests(), f"no test mentions {hook}"


@functools.cache
def _hooks_mentioned_in_tests() -> frozenset[str]:
    """Hook names that appear in the body of some test function (this enforcement test excluded)."""
    found: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if not isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef
            ) or not node.name.startswith("test_"):
                continue
            if node.name == test_every_hook_is_documented_and_tested.__name__:
                continue
            body = ast.get_source_segment(text, node) or ""
            found.update(re.findall(r"creditguard_[a-z_]+", body))
    return frozenset(found)


def test_docs_describe_no_stale_hook() -> None:
    doc = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^##\s+(creditguard_\w+)\s*$", doc, flags=re.M))
    assert documented == set(hook_names())


# -- creditguard_register_sources ----------------------------------------------------------


class MemorySource:
    def __init__(self, name: str, inner: Any) -> None:
        self.name = name
        self.inner = inner

    def lookup(self, codes: Any, *, include_related: bool = False) -> Any:
        return self.inner.lookup(codes, include_related=include_related)


def test_register_sources_type_used_by_config(tmp_path: Path, mirror: Any, lists: Any) -> None:
    made: list[dict[str, Any]] = []

    class Plugin:
        @hookimpl
        def creditguard_register_sources(self, register: Any) -> None:
            def factory(name: str, flavour: str) -> MemorySource:
                made.append({"name": name, "flavour": flavour})
                return MemorySource(name, mirror)

            register("memory", factory)

    cfg = config_from_dict(
        {
            "guard": {"data_dir": str(tmp_path)},
            "measures": {"packs": False},
            "sources": [{"name": "mem", "type": "memory", "flavour": "plain"}],
        }
    )
    with Guard(cfg, plugins=[Plugin()], measure_lists=lists, load_entrypoints=False) as g:
        assert made == [{"name": "mem", "flavour": "plain"}]
        assert list(g.sources) == ["mem"]
        d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
        assert d.outcome == "deny" and d.provenance[0].source == "mem"


def test_register_sources_plugin_overrides_default_mirror(
    tmp_path: Path, mirror: Any, lists: Any
) -> None:
    class Plugin:
        @hookimpl
        def creditguard_register_sources(self, register: Any) -> None:
            register("mirror", lambda name, **options: MemorySource(name, mirror))

    cfg = config_from_dict(
        {"guard": {"data_dir": str(tmp_path / "elsewhere")}, "measures": {"packs": False}}
    )
    with Guard(cfg, plugins=[Plugin()], measure_lists=lists, load_entrypoints=False) as g:
        assert isinstance(g.sources["mirror"], MemorySource)
        assert g.check(ORG_BLACK, step="procurement.bid", region=REGION).outcome == "deny"
    with Guard(
        cfg, measure_lists=lists, load_entrypoints=False
    ) as plain:  # the default: an empty mirror
        assert type(plain.sources["mirror"]).__name__ == "SqliteMirror"
        # An empty mirror knows nothing of the listing (and says it was never loaded).
        assert plain.check(ORG_BLACK, step="procurement.bid", region=REGION).outcome != "deny"


def test_register_sources_bad_registration(tmp_path: Path) -> None:
    class Plugin:
        @hookimpl
        def creditguard_register_sources(self, register: Any) -> None:
            register("broken", "not a factory")

    cfg = config_from_dict({"guard": {"data_dir": str(tmp_path)}})
    with pytest.raises(PluginError, match="callable"):
        Guard(cfg, plugins=[Plugin()], load_entrypoints=False)


# -- creditguard_register_measures ---------------------------------------------------------


def _hz_list(**changes: Any) -> dict[str, Any]:
    data = city_list_data()
    data.update(region="330100", version="2026.9", extends=None, **changes)
    return data


@pytest.mark.parametrize("as_model", [True, False])
def test_register_measures_pack_used_by_check(make_guard: GuardFactory, as_model: bool) -> None:
    class Pack:
        @hookimpl
        def creditguard_register_measures(self, register: Any) -> None:
            register(MeasureList.model_validate(_hz_list()) if as_model else _hz_list())

    g = make_guard({"measures": {"packs": True}}, plugins=[Pack()])
    d = g.check(ORG_BLACK, step="procurement.bid", region="330100")
    assert d.outcome == "deny" and (d.list_region, d.list_version) == ("330100", "2026.9")


def test_register_measures_ignored_without_packs(make_guard: GuardFactory) -> None:
    class Pack:
        @hookimpl
        def creditguard_register_measures(self, register: Any) -> None:
            register(_hz_list())

    g = make_guard({"measures": {"packs": False}}, plugins=[Pack()])
    with pytest.raises(Exception, match="330100"):
        g.check(ORG_BLACK, step="procurement.bid", region="330100")


def test_register_measures_invalid_list(make_guard: GuardFactory) -> None:
    bad = _hz_list()
    bad["measures"][0]["effect"] = "ban"

    class Pack:
        @hookimpl
        def creditguard_register_measures(self, register: Any) -> None:
            register(bad)

    with pytest.raises(MeasureListError, match="NJ-01"):
        make_guard({"measures": {"packs": True}}, plugins=[Pack()])


def test_register_measures_wrong_type(make_guard: GuardFactory) -> None:
    class Pack:
        @hookimpl
        def creditguard_register_measures(self, register: Any) -> None:
            register(["not", "a", "list"])

    with pytest.raises(MeasureListError, match="MeasureList"):
        make_guard({"measures": {"packs": True}}, plugins=[Pack()])


# -- creditguard_extra_measures ------------------------------------------------------------


def _measure(code: str, effect: str) -> Measure:
    return Measure.model_validate(
        {
            "code": code,
            "title": f"附加措施{code}",
            "category": "rights_limiting",
            "legal_basis": [
                {
                    "title": "《中华人民共和国税收征收管理法》",
                    "article": "第四十五条",
                    "level": "law",
                }
            ],
            "applies_to": {"list_kinds": ["blacklist", "focus"], "steps": ["*"]},
            "effect": effect,
        }
    )


def _extra_plugin(code: str, effect: str, seen: list[dict[str, Any]] | None = None) -> object:
    m = _measure(code, effect)

    class Extra:
        @hookimpl
        def creditguard_extra_measures(
            self, subject: Any, step: str, region: str, as_of: date, records: Any, context: Any
        ) -> Any:
            if seen is not None:
                seen.append(
                    {
                        "subject": subject.code,
                        "step": step,
                        "region": region,
                        "as_of": as_of,
                        "records": [er.record.record_id for er in records],
                        "context": dict(context),
                    }
                )
            return [applied(m, records, origin=f"plugin:{code}")]

    return Extra()


def test_extra_measures_adds_a_deny(make_guard: GuardFactory) -> None:
    seen: list[dict[str, Any]] = []
    g = make_guard(plugins=[_extra_plugin("X-DENY", "deny", seen)])
    d = g.check(ORG_FOCUS, step="licensing.accept", region=REGION, context={"amount": 5})
    assert d.outcome == "deny"
    assert [m.code for m in d.measures] == ["X-DENY", "NJ-03"]
    assert d.measures[0].origin == "plugin:X-DENY" and d.measures[0].record_ids == ("TAX-F-1",)
    assert seen == [
        {
            "subject": ORG_FOCUS,
            "step": "licensing.accept",
            "region": REGION,
            "as_of": d.as_of,
            "records": ["TAX-F-1"],
            "context": {"amount": 5},
        }
    ]


def test_extra_measures_are_asked_for_clean_subjects_too(make_guard: GuardFactory) -> None:
    # A measure may rest on facts other than a listing (a broken commitment): the plugin is
    # asked with no records, and what it returns applies.
    seen: list[dict[str, Any]] = []
    g = make_guard(plugins=[_extra_plugin("X-DENY", "deny", seen)])
    d = g.check(ORG_CLEAN, step="procurement.bid", region=REGION)
    assert [r["records"] for r in seen] == [[]]
    assert d.outcome == "deny" and [m.code for m in d.measures] == ["X-DENY"]
    assert d.measures[0].record_ids == () and not d.records


def test_extra_measures_most_severe_wins_in_any_order(make_guard: GuardFactory) -> None:
    def run(order: list[object]) -> Any:
        d = make_guard(plugins=order).check(ORG_BLACK, step="subsidy.apply", region=REGION)
        return d.outcome, [(m.code, m.effect, m.origin) for m in d.measures]

    restrict, deny = _extra_plugin("X-1", "restrict"), _extra_plugin("X-2", "deny")
    first, second = run([restrict, deny]), run([deny, restrict])
    assert first == second
    assert first[0] == "deny"
    assert [c for c, *_ in first[1]] == ["X-2", "NJ-02", "X-1"]


def test_extra_measures_same_code_in_any_order(make_guard: GuardFactory) -> None:
    def run(order: list[object]) -> Any:
        d = make_guard(plugins=order).check(ORG_BLACK, step="subsidy.apply", region=REGION)
        return d.outcome, d.measures

    a, b = _extra_plugin("X-1", "notify"), _extra_plugin("X-1", "deny")
    assert run([a, b]) == run([b, a])
    assert run([a, b])[0] == "deny"


@pytest.mark.parametrize("bad", [[{"code": "X"}], 42, "X-1", lambda: None])
def test_extra_measures_wrong_type(make_guard: GuardFactory, bad: Any) -> None:
    class Broken:
        @hookimpl
        def creditguard_extra_measures(self, records: Any) -> Any:
            return bad

    g = make_guard(plugins=[Broken()])
    with pytest.raises(PluginError, match="creditguard_extra_measures"):
        g.check(ORG_BLACK, step="procurement.bid", region=REGION)


def test_extra_measures_returning_none_is_fine(make_guard: GuardFactory) -> None:
    class Quiet:
        @hookimpl
        def creditguard_extra_measures(self, records: Any) -> None:
            return None

    assert (
        make_guard(plugins=[Quiet()])
        .check(ORG_BLACK, step="procurement.bid", region=REGION)
        .outcome
        == "deny"
    )


def test_extra_measures_plugin_registered_late_applies(make_guard: GuardFactory) -> None:
    g = make_guard()
    before = g.check(ORG_FOCUS, step="licensing.accept", region=REGION)
    assert [m.code for m in before.measures] == ["NJ-03"]
    g.plugin_manager.register(_extra_plugin("X-LATE", "deny"))
    after = g.check(ORG_FOCUS, step="licensing.accept", region=REGION)
    assert after.outcome == "deny" and "X-LATE" in [m.code for m in after.measures]


@pytest.mark.anyio
async def test_extra_measures_plugin_registered_late_applies_async(
    make_async_guard: GuardFactory,
) -> None:
    g = make_async_guard()
    g.plugin_manager.register(_extra_plugin("X-LATE", "deny"))
    d = await g.check(ORG_FOCUS, step="licensing.accept", region=REGION)
    assert d.outcome == "deny" and "X-LATE" in [m.code for m in d.measures]


class _Exploding:
    @hookimpl
    def creditguard_extra_measures(self, records: Any) -> Any:
        raise RuntimeError("rule table missing")


def test_extra_measures_plugin_raising_fails_the_check_typed(make_guard: GuardFactory) -> None:
    obs = Observer()
    g = make_guard(plugins=[_Exploding(), obs])
    with pytest.raises(PluginError, match="creditguard_extra_measures") as info:
        g.check(ORG_FOCUS, step="licensing.accept", region=REGION)
    assert "RuntimeError: rule table missing" in str(info.value)
    assert "_Exploding" in str(info.value) or "plugin" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert obs.seen == []  # no decision was made, so none was observed
    # A subject without records reaches the plugin too: its failure is never "no measure".
    with pytest.raises(PluginError):
        g.check(ORG_CLEAN, step="licensing.accept", region=REGION)


@pytest.mark.anyio
async def test_extra_measures_plugin_raising_fails_the_check_typed_async(
    make_async_guard: GuardFactory,
) -> None:
    g = make_async_guard(plugins=[_Exploding()])
    with pytest.raises(PluginError, match="RuntimeError") as info:
        await g.check(ORG_FOCUS, step="licensing.accept", region=REGION)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_extra_measures_plugin_error_names_the_plugin_and_masks_numbers(
    make_guard: GuardFactory,
) -> None:
    from _coredata import REP

    class Leaky:
        @hookimpl
        def creditguard_extra_measures(self, records: Any) -> Any:
            raise KeyError(f"no row for {REP}")

    g = make_guard()
    g.plugin_manager.register(Leaky(), name="leaky-pack")
    with pytest.raises(PluginError, match="'leaky-pack'") as info:
        g.check(ORG_FOCUS, step="licensing.accept", region=REGION)
    assert REP not in str(info.value) and REP[:6] in str(info.value)


def test_extra_measures_wrapper_runs(make_guard: GuardFactory) -> None:
    seen: list[int] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def creditguard_extra_measures(self) -> Any:
            result = yield
            seen.append(len(result))
            return result

    g = make_guard(plugins=[Wrapper(), _extra_plugin("X-1", "notify")])
    g.check(ORG_FOCUS, step="licensing.accept", region=REGION)
    assert seen == [1]


# -- creditguard_decision_made -------------------------------------------------------------


class Observer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    @hookimpl
    def creditguard_decision_made(self, decision: Any, context: Any) -> None:
        self.seen.append((decision.decision_id, decision.outcome, dict(context)))


def test_decision_made_sees_every_decision(make_guard: GuardFactory, mirror: Any) -> None:
    obs = Observer()
    g = make_guard({"failure": {"default": "hold"}}, plugins=[obs], sources=[mirror, DownSource()])
    a = g.check(ORG_BLACK, step="procurement.bid", region=REGION, context={"ref": "A"})
    b = g.check(ORG_CLEAN, step="procurement.bid", region=REGION)
    assert obs.seen == [(a.decision_id, "deny", {"ref": "A"}), (b.decision_id, "review", {})]


@pytest.mark.parametrize("broken_first", [True, False])
def test_decision_made_observer_errors_are_contained(
    make_guard: GuardFactory, broken_first: bool, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def creditguard_decision_made(self, decision: Any) -> None:
            raise RuntimeError("audit store down")

    class Mutator:
        @hookimpl
        def creditguard_decision_made(self, decision: Any) -> Any:
            return "allow"  # return values are ignored

    obs = Observer()
    plugins = [Broken(), Mutator(), obs] if broken_first else [obs, Mutator(), Broken()]
    g = make_guard(plugins=plugins)
    with caplog.at_level(logging.ERROR, logger="creditguard.plugins"):
        d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert d.outcome == "deny"
    assert [s[0] for s in obs.seen] == [d.decision_id]
    assert "audit store down" in caplog.text and d.decision_id in caplog.text


def test_decision_made_observer_registered_late_sees_decisions(make_guard: GuardFactory) -> None:
    g = make_guard()
    g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    obs = Observer()
    g.plugin_manager.register(obs)
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert [s[0] for s in obs.seen] == [d.decision_id]


@pytest.mark.parametrize("style", ["wrapper", "hookwrapper"])
def test_decision_made_wrappers_run(make_guard: GuardFactory, style: str) -> None:
    calls: list[str] = []

    if style == "wrapper":

        class Wrap:
            @hookimpl(wrapper=True)
            def creditguard_decision_made(self, decision: Any) -> Any:
                calls.append("before " + decision.outcome)
                result = yield
                calls.append("after")
                return result

    else:

        class Wrap:  # type: ignore[no-redef]
            @hookimpl(hookwrapper=True)
            def creditguard_decision_made(self, decision: Any) -> Any:
                calls.append("before " + decision.outcome)
                yield
                calls.append("after")

    obs = Observer()
    g = make_guard(plugins=[obs, Wrap()])
    d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert calls == ["before deny", "after"] and len(obs.seen) == 1 and d.outcome == "deny"


def test_decision_made_failing_wrapper_is_contained(
    make_guard: GuardFactory, caplog: pytest.LogCaptureFixture
) -> None:
    class BadWrap:
        @hookimpl(wrapper=True)
        def creditguard_decision_made(self) -> Any:
            yield
            raise RuntimeError("tracer down")

    g = make_guard(plugins=[BadWrap(), Observer()])
    with caplog.at_level(logging.ERROR, logger="creditguard.plugins"):
        d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert d.outcome == "deny" and "tracer down" in caplog.text


def test_decision_made_two_failing_observers_do_not_silence_a_third(
    make_guard: GuardFactory, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(message: str) -> object:
        class Broken:
            @hookimpl
            def creditguard_decision_made(self, decision: Any) -> None:
                raise ValueError(message)

        return Broken()

    first, last = Observer(), Observer()
    g = make_guard(plugins=[first, broken("one"), Observer(), broken("two"), last])
    with caplog.at_level(logging.ERROR, logger="creditguard.plugins"):
        d = g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert [s[0] for s in first.seen] == [s[0] for s in last.seen] == [d.decision_id]
    assert "ValueError: one" in caplog.text and "ValueError: two" in caplog.text


# -- plugin manager ------------------------------------------------------------------------


def test_misspelt_hook_fails_loudly(make_guard: GuardFactory) -> None:
    class Typo:
        @hookimpl
        def creditguard_decison_made(self, decision: Any) -> None:  # sic
            pass

    with pytest.raises(PluginError, match="creditguard_decison_made"):
        make_guard(plugins=[Typo()])


def test_misspelt_hook_argument_fails_loudly(make_guard: GuardFactory) -> None:
    class BadArg:
        @hookimpl
        def creditguard_decision_made(self, desicion: Any) -> None:
            pass

    with pytest.raises(Exception, match="desicion"):
        make_guard(plugins=[BadArg()])


def test_defaults_registered_last() -> None:
    pm = build_plugin_manager(load_entrypoints=False)
    [info] = [i for i in plugin_infos(pm) if i.name == "creditguard.defaults"]
    assert info.hooks == ("creditguard_register_sources",) and info.version


def test_entry_point_plugin_loads(fake_dist: str) -> None:
    pm = build_plugin_manager()
    assert pm.has_plugin(fake_dist)
    [info] = [i for i in plugin_infos(pm) if i.name == fake_dist]
    assert info.version == "1.0"
    assert info.hooks == ("creditguard_decision_made", "creditguard_register_sources")


def test_disable_env_blocks_entry_point_plugin(
    fake_dist: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.setenv(
        "CREDITGUARD_DISABLE_PLUGINS", os.environ["CREDITGUARD_DISABLE_PLUGINS"] + f", {fake_dist}"
    )
    assert not build_plugin_manager().has_plugin(fake_dist)
    assert build_plugin_manager(disabled=[]).has_plugin(fake_dist)
    assert not build_plugin_manager(disabled=[fake_dist]).has_plugin(fake_dist)


def test_entry_point_plugin_observes_guard_checks(
    fake_dist: str, tmp_path: Path, lists: Any
) -> None:
    import importlib

    cfg = config_from_dict({"guard": {"data_dir": str(tmp_path)}, "journal": {"enabled": False}})
    with Guard(cfg, sources=[DownSource()], measure_lists=lists) as guard:  # entry points loaded
        d = guard.check(ORG_CLEAN, step="procurement.bid", region=REGION)
    module = importlib.import_module("cg_fake_entrypoint_plugin")
    assert [d.decision_id] == module.SEEN


def test_hookspec_docstrings_say_how_results_combine() -> None:
    for name in hook_names():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert doc, name
    assert "collect-all" in (inspect.getdoc(hookspecs.creditguard_extra_measures) or "")


# -- creditguard_register_channels ---------------------------------------------------------


def test_register_channels_first_registration_wins_and_is_checked() -> None:
    from creditguard.channels import channel_source, open_channel, registered_channels

    made: list[str] = []

    class First:
        @hookimpl
        def creditguard_register_channels(self, register: Any) -> None:
            def factory(name: str, **options: Any) -> object:
                made.append(name)
                return object()  # lacks the Channel methods

            register("province-x", factory)

    class Second:
        @hookimpl
        def creditguard_register_channels(self, register: Any) -> None:
            register("province-x", lambda name, **options: None)

    pm = build_plugin_manager([Second(), First()], load_entrypoints=False)
    types = registered_channels(pm)
    assert "province-x" in types
    cfg = config_from_dict(
        {"sources": [{"name": "px", "type": "province-x", "base_url": "https://x.example"}]}
    )
    source = channel_source(cfg, types)
    assert source is not None and source.name == "px"
    with pytest.raises(PluginError, match="province-x"):
        open_channel(cfg, pm)
    assert made == ["px"]  # First was registered last, so pluggy called it first: it won


def test_register_channels_bad_registration() -> None:
    from creditguard.channels import registered_channels

    class Broken:
        @hookimpl
        def creditguard_register_channels(self, register: Any) -> None:
            register("x", "not a factory")

    with pytest.raises(PluginError, match="callable"):
        registered_channels(build_plugin_manager([Broken()], load_entrypoints=False))
