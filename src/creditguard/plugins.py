"""The plugin manager, and the one place that calls hooks.

A guard builds its own manager with :func:`build_plugin_manager` (no
import-time global): hook specs from :mod:`creditguard.hookspecs`, plugins
passed by the caller, plugins found through the ``creditguard`` entry-point
group (minus those named in ``CREDITGUARD_DISABLE_PLUGINS``), and the
built-in defaults last. :class:`Hooks` turns hook results into typed values.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pluggy

from creditguard import hookspecs
from creditguard.errors import MeasureListError, PluginError
from creditguard.models import AppliedMeasure, Decision, EffectiveRecord, MeasureList

__all__ = ["DISABLE_ENV", "Hooks", "PluginInfo", "build_plugin_manager", "plugin_infos"]

log = logging.getLogger("creditguard.plugins")

#: Environment variable naming entry-point plugins to block (comma-separated).
DISABLE_ENV = "CREDITGUARD_DISABLE_PLUGINS"

SourceFactory = Callable[..., Any]


def build_plugin_manager(
    plugins: Iterable[object] = (),
    *,
    load_entrypoints: bool = True,
    disabled: Sequence[str] | None = None,
) -> pluggy.PluginManager:
    """A fresh plugin manager: given plugins, entry-point plugins, then built-in defaults."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = list(disabled) if disabled is not None else _disabled_from_env()
    for name in blocked:
        pm.set_blocked(name)
    for plugin in plugins:
        pm.register(plugin)
    if load_entrypoints:
        try:
            pm.load_setuptools_entrypoints(hookspecs.PROJECT)
        except Exception as exc:  # an entry point that fails to import
            raise PluginError(f"a creditguard plugin failed to load: {exc}") from exc
    from creditguard import defaults

    if not pm.is_registered(defaults):
        pm.register(defaults, name="creditguard.defaults")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{exc} (is the hook name misspelt? see creditguard.hookspecs)") from exc
    return pm


def _disabled_from_env() -> list[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return [name.strip() for name in raw.split(",") if name.strip()]


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """What ``creditguard plugins`` shows of one plugin."""

    name: str
    version: str | None
    hooks: tuple[str, ...]


def plugin_infos(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Name, version and implemented hooks of every registered plugin."""
    versions: dict[int, tuple[str, str]] = {}
    for plugin, dist in pm.list_plugin_distinfo():
        versions[id(plugin)] = (dist.project_name, dist.version)
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
        dist_info = versions.get(id(plugin))
        version = dist_info[1] if dist_info else None
        if dist_info is None and name == "creditguard.defaults":
            from importlib.metadata import version as _v

            version = _v("creditguard")
        infos.append(PluginInfo(name, version, hooks))
    return sorted(infos, key=lambda i: i.name)


class Hooks:
    """Typed calls of every hook; the only code that touches ``pm.hook``."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._extra = pm.hook.creditguard_extra_measures
        self._observe = pm.hook.creditguard_decision_made
        self.refresh()

    def refresh(self) -> None:
        """Re-read which hooks have implementations (after registering a plugin late)."""
        self.has_extra_measures = bool(self._extra.get_hookimpls())
        # Observers in call order (last registered first, as pluggy calls them), each
        # with its argument names, so decision_made needs no per-call introspection.
        self._observers = [
            (impl.plugin_name, impl.function, tuple(impl.argnames))
            for impl in reversed(self._observe.get_hookimpls())
        ]
        self.has_observers = bool(self._observers)

    def register_sources(self) -> dict[str, SourceFactory]:
        """Source types contributed by plugins; the first registration of a type name wins."""
        found: dict[str, SourceFactory] = {}

        def register(type_name: str, factory: SourceFactory) -> None:
            if not isinstance(type_name, str) or not callable(factory):
                raise PluginError("register(type_name, factory) needs a name and a callable")
            found.setdefault(type_name, factory)

        self.pm.hook.creditguard_register_sources(register=register)
        return found

    def register_measures(self) -> list[MeasureList]:
        """Measure lists contributed by packs, validated."""
        lists: list[MeasureList] = []

        def register(measure_list: MeasureList | Mapping[str, Any]) -> None:
            if isinstance(measure_list, MeasureList):
                lists.append(measure_list)
            elif isinstance(measure_list, Mapping):
                from creditguard.measures.loader import validate_data

                lists.append(validate_data(dict(measure_list), name="<registered list>"))
            else:
                raise MeasureListError(
                    f"register() takes a MeasureList, got {type(measure_list).__name__}"
                )

        self.pm.hook.creditguard_register_measures(register=register)
        return lists

    def extra_measures(
        self,
        subject: Any,
        step: str,
        region: str,
        as_of: date,
        records: tuple[EffectiveRecord, ...],
        context: Mapping[str, Any],
    ) -> list[AppliedMeasure]:
        """Every plugin's conditional measures, flattened and type-checked."""
        out: list[AppliedMeasure] = []
        results = self._extra(
            subject=subject, step=step, region=region, as_of=as_of, records=records, context=context
        )
        for result in results:
            if result is None:
                continue
            # A bare measure or a string would iterate into nonsense: demand a real collection.
            if isinstance(result, (str, bytes, AppliedMeasure)) or not isinstance(result, Iterable):
                raise PluginError(
                    "creditguard_extra_measures must return an iterable of AppliedMeasure or None, "
                    f"got {type(result).__name__}"
                )
            for item in result:
                if not isinstance(item, AppliedMeasure):
                    raise PluginError(
                        "creditguard_extra_measures must return AppliedMeasure objects "
                        f"(use creditguard.rules.applied), got {type(item).__name__}"
                    )
                out.append(item)
        return out

    def decision_made(self, decision: Decision, context: Mapping[str, Any]) -> None:
        """Tell observers; their errors are logged and swallowed so they cannot block a check."""
        # Each observer is called on its own so that one failing cannot silence the others.
        for plugin_name, function, argnames in self._observers:
            try:
                if argnames == ("decision", "context"):
                    function(decision, context)
                else:
                    kwargs = {"decision": decision, "context": context}
                    function(*[kwargs[name] for name in argnames])
            except Exception:
                log.exception(
                    "observer %s failed on decision %s", plugin_name, decision.decision_id
                )
