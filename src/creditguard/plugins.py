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
from types import ModuleType
from typing import TYPE_CHECKING, cast

import pluggy

from creditguard import hookspecs
from creditguard.errors import MeasureListError, PluginError
from creditguard.masking import mask_text
from creditguard.models import AppliedMeasure, Decision, EffectiveRecord, MeasureList

if TYPE_CHECKING:
    from creditguard.channels import ChannelFactory
    from creditguard.codes import SubjectCode

__all__ = [
    "DISABLE_ENV",
    "Hooks",
    "PluginInfo",
    "PluginManager",
    "build_plugin_manager",
    "plugin_infos",
]

log = logging.getLogger("creditguard.plugins")

#: Environment variable naming entry-point plugins to block (comma-separated).
DISABLE_ENV = "CREDITGUARD_DISABLE_PLUGINS"

#: Builds a record source from a ``[[sources]]`` table's options.
SourceFactory = Callable[..., object]


class PluginManager(pluggy.PluginManager):
    """pluggy's plugin manager, counting the changes to what is registered.

    ``generation`` grows with every :meth:`register` and :meth:`unregister`
    (``set_blocked`` and entry-point loading go through them), so a caller can
    cache what depends on the registered implementations — "does any plugin
    observe decisions?" — and see a late registration at its next call.
    """

    #: Bumped by every registration and unregistration (see :class:`Hooks`).
    generation: int = 0

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin`` (see :meth:`pluggy.PluginManager.register`)."""
        try:
            return super().register(plugin, name)
        finally:
            self.generation += 1

    def unregister(self, plugin: object | None = None, name: str | None = None) -> object | None:
        """Unregister ``plugin`` and return it (see :meth:`pluggy.PluginManager.unregister`)."""
        try:
            return super().unregister(plugin, name)
        finally:
            self.generation += 1


def build_plugin_manager(
    plugins: Iterable[object] = (),
    *,
    load_entrypoints: bool = True,
    disabled: Sequence[str] | None = None,
) -> PluginManager:
    """A fresh plugin manager: given plugins, entry-point plugins, then built-in defaults."""
    pm = PluginManager(hookspecs.PROJECT)
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
    """Typed calls of every hook; the only code that touches ``pm.hook``.

    Every hook is called through pluggy (``pm.hook.<name>(...)``), so wrapper
    implementations (``wrapper=True`` / ``hookwrapper=True``) run, and a plugin
    registered on the manager after the guard was built takes part in the
    next check. Whether a per-check hook has implementations at all is kept
    per :attr:`PluginManager.generation` (pluggy's own registrations bump it),
    so a check with no observer skips the call without asking pluggy each time.
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        # Hook callers are stable per hook name (registration adds to them), so keeping
        # them saves an attribute lookup per check without caching which plugins exist.
        self._extra = pm.hook.creditguard_extra_measures
        self._observe = pm.hook.creditguard_decision_made
        self._seen = -1  # the manager's generation the two flags below were read at
        self._has_extra = False
        self._has_observers = False

    def _refresh(self) -> None:
        # A plain pluggy manager (tests, tools) has no generation: then pluggy is asked
        # each time. The generation is read before the implementations, so a registration
        # racing with this refresh leaves the stored one behind and the next call reads again.
        gen = getattr(self.pm, "generation", None)
        self._has_extra = bool(self._extra.get_hookimpls())
        self._has_observers = bool(self._observe.get_hookimpls())
        if gen is not None:
            self._seen = gen

    @property
    def has_extra_measures(self) -> bool:
        """Whether any plugin implements ``creditguard_extra_measures`` right now."""
        if getattr(self.pm, "generation", None) != self._seen:
            self._refresh()
        return self._has_extra

    @property
    def has_observers(self) -> bool:
        """Whether any plugin implements ``creditguard_decision_made`` right now."""
        if getattr(self.pm, "generation", None) != self._seen:
            self._refresh()
        return self._has_observers

    def register_sources(self) -> dict[str, SourceFactory]:
        """Source types contributed by plugins; the first registration of a type name wins."""
        found: dict[str, SourceFactory] = {}

        def register(type_name: str, factory: SourceFactory) -> None:
            if not isinstance(type_name, str) or not callable(factory):
                raise PluginError("register(type_name, factory) needs a name and a callable")
            found.setdefault(type_name, factory)

        self.pm.hook.creditguard_register_sources(register=register)
        return found

    def register_channels(self) -> dict[str, ChannelFactory]:
        """Channel types contributed by plugins (see :mod:`creditguard.channels`); first wins."""
        found: dict[str, ChannelFactory] = {}

        def register(type_name: str, factory: Callable[..., object]) -> None:
            if not isinstance(type_name, str) or not callable(factory):
                raise PluginError("register(type_name, factory) needs a name and a callable")
            # The hook's contract says the factory builds a Channel; channels.py uses it so.
            found.setdefault(type_name, cast("ChannelFactory", factory))

        self.pm.hook.creditguard_register_channels(register=register)
        return found

    def register_measures(self) -> list[MeasureList]:
        """Measure lists contributed by packs, validated."""
        lists: list[MeasureList] = []
        self.pm.hook.creditguard_register_measures(register=_list_collector(lists))
        return lists

    def register_measures_by_pack(self) -> dict[str, list[MeasureList]]:
        """Measure lists contributed by packs, by plugin name (entry-point name), validated.

        Each pack's hook is called through pluggy on its own (a subset caller),
        so the lists can be told apart: configuration enables packs by name.
        """
        out: dict[str, list[MeasureList]] = {}
        for impl in self.pm.hook.creditguard_register_measures.get_hookimpls():
            others = [p for p in self.pm.get_plugins() if p is not impl.plugin]
            caller = self.pm.subset_hook_caller("creditguard_register_measures", others)
            caller(register=_list_collector(out.setdefault(impl.plugin_name, [])))
        return out

    def pack_distributions(self) -> dict[str, str]:
        """Plugin name → distribution name, for plugins installed through entry points."""
        names = {id(p): n for n, p in self.pm.list_name_plugin() if p is not None}
        return {
            names[id(plugin)]: dist.project_name
            for plugin, dist in self.pm.list_plugin_distinfo()
            if id(plugin) in names
        }

    def extra_measures(
        self,
        subject: SubjectCode,
        step: str,
        region: str,
        as_of: date,
        records: tuple[EffectiveRecord, ...],
        context: Mapping[str, object],
    ) -> list[AppliedMeasure]:
        """Every plugin's conditional measures, flattened and type-checked.

        A plugin that raises fails the check with :class:`PluginError` (the
        original exception chained): a measure that could not be evaluated must
        never read as "no extra measure", and a broken plugin is a programming
        error to fix, not an outage for the failure policy to absorb.
        """
        out: list[AppliedMeasure] = []
        try:
            results = self._extra(
                subject=subject,
                step=step,
                region=region,
                as_of=as_of,
                records=records,
                context=context,
            )
        except PluginError:
            raise
        except Exception as exc:
            name = _label(_failed_impl(exc, self._extra.get_hookimpls()))
            raise PluginError(
                f"measure plugin {name} failed in creditguard_extra_measures "
                f"({_describe(exc)}); no decision was made"
            ) from exc
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

    def decision_made(self, decision: Decision, context: Mapping[str, object]) -> None:
        """Tell observers; their errors are logged and swallowed so they cannot block a check.

        Pluggy ends a hook call at the first implementation that raises (a
        failing hook is a hard failure there). An observer must not silence the
        ones after it, so after a failure the observers not yet called are
        called again through :meth:`pluggy.PluginManager.subset_hook_caller`
        (wrapper implementations run around that second call too).
        """
        try:
            self._observe(decision=decision, context=context)
        except Exception as exc:
            self._resume_observers(exc, decision, context)

    def _resume_observers(
        self, exc: Exception, decision: Decision, context: Mapping[str, object]
    ) -> None:
        """Log an observer's failure and call the observers pluggy did not reach (error path only)."""
        caller: pluggy.HookCaller = self._observe
        called: set[object] = set()
        while True:
            # Pluggy calls plain implementations last-registered first.
            order = [i for i in reversed(caller.get_hookimpls()) if not i.wrapper]
            order = [i for i in order if not i.hookwrapper]
            failed = _failed_impl(exc, order)
            name = _label(failed)
            log.error(
                "observer %s failed on decision %s: %s",
                name,
                decision.decision_id,
                _describe(exc),
            )
            log.debug("observer %s traceback", name, exc_info=exc)
            if failed is None:
                return  # a wrapper failed: which observers ran is unknown
            done = order[: order.index(failed) + 1]
            if len(done) == len(order):
                return
            called.update(i.plugin for i in done)
            caller = self.pm.subset_hook_caller("creditguard_decision_made", called)
            try:
                caller(decision=decision, context=context)
                return
            except Exception as again:
                exc = again


def _list_collector(
    into: list[MeasureList],
) -> Callable[[MeasureList | Mapping[str, object]], None]:
    """The ``register`` callback of ``creditguard_register_measures``: validates into ``into``."""

    def register(measure_list: MeasureList | Mapping[str, object]) -> None:
        if isinstance(measure_list, MeasureList):
            into.append(measure_list)
        elif isinstance(measure_list, Mapping):
            from creditguard.measures.loader import validate_data

            into.append(validate_data(dict(measure_list), name="<registered list>"))
        else:
            raise MeasureListError(
                f"register() takes a MeasureList, got {type(measure_list).__name__}"
            )

    return register


def _failed_impl(exc: BaseException, impls: Sequence[pluggy.HookImpl]) -> pluggy.HookImpl | None:
    """The implementation in whose code ``exc`` was raised (innermost match), if any.

    Two instances of one plugin class share their functions' code, so a bound
    method is matched by its code and by the ``self`` of the frame.
    """
    found = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        for impl in impls:
            fn = impl.function
            if getattr(fn, "__code__", None) is not frame.f_code:
                continue
            owner = getattr(fn, "__self__", None)
            code = frame.f_code
            if owner is None or (
                code.co_argcount and frame.f_locals.get(code.co_varnames[0]) is owner
            ):
                found = impl
                break
        tb = tb.tb_next
    return found


def _label(impl: pluggy.HookImpl | None) -> str:
    """A readable plugin name for messages (pluggy names unnamed plugins by ``id()``)."""
    if impl is None:
        return "(unknown plugin)"
    if not impl.plugin_name.isdigit():
        return repr(impl.plugin_name)
    plugin = impl.plugin
    named = plugin if isinstance(plugin, type | ModuleType) else type(plugin)
    return repr(
        f"{named.__module__}.{named.__qualname__}" if isinstance(named, type) else named.__name__
    )


def _describe(exc: BaseException) -> str:
    # Plugin exception text is third-party: mask anything shaped like an ID number.
    return f"{type(exc).__name__}: {mask_text(str(exc))}"
