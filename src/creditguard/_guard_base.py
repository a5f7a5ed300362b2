"""What both guards are built from: plugins, measure lists, sources, cache, engine, journal, cases.

:class:`GuardBase` assembles a guard from its configuration and holds what
the sync and async guards share; :mod:`creditguard.guard` adds the I/O of
each style. Internal: use :class:`creditguard.Guard` / :class:`creditguard.AsyncGuard`
(see docs/api.md).
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Self

from creditguard.cache import RecordCache
from creditguard.case_desk import CaseDesk, open_case_desk
from creditguard.config import Config, load_config
from creditguard.engine import CST, Engine, FailurePolicy, Fetch, Fetched, Plan
from creditguard.errors import ConfigError, CreditGuardError, SourceError, SourceUnavailable
from creditguard.journal import DecisionJournal
from creditguard.journal_pg import PostgresJournal, journal_target, open_journal
from creditguard.measures.catalog import MeasureCatalog
from creditguard.models import Decision, MeasureList
from creditguard.plugins import Hooks, build_plugin_manager
from creditguard.screening import Block, plan_block
from creditguard.sources import HttpSource, LocalSource, MembershipProbe, RecordSource

if TYPE_CHECKING:
    import httpx

    from creditguard.measures.platform_sync import ListFetch

__all__ = ["GuardBase"]


class GuardBase:
    """Construction shared by both guards: plugins, sources, lists, cache, journal, cases."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        sources: Sequence[RecordSource] | None = None,
        measure_lists: Iterable[MeasureList] = (),
        plugins: Iterable[object] = (),
        load_entrypoints: bool = True,
        journal: bool | str | os.PathLike[str] | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Build a guard from ``config`` (see :func:`creditguard.load_config`).

        ``sources`` replaces the configured ``[[sources]]``; ``measure_lists``
        adds lists to the configured ones; ``plugins`` are registered before
        entry-point plugins (``load_entrypoints=False`` skips those);
        ``journal`` turns the decision journal on or off or names its file;
        ``transport`` is the httpx transport of HTTP sources (tests). Raises
        :class:`~creditguard.errors.ConfigError`,
        :class:`~creditguard.errors.MeasureListError` or
        :class:`~creditguard.errors.PluginError` when something is wrong.
        """
        if config is None and sources is None:
            # The defaults name an empty local mirror: a guard built on them would check
            # against no data. Sources passed directly (tests, embedding) are fine.
            raise ConfigError("no configuration: pass a Config (see load_config) or sources=")
        self.config = config or Config()
        cfg = self.config
        self.plugin_manager = build_plugin_manager(plugins, load_entrypoints=load_entrypoints)
        self.hooks = Hooks(self.plugin_manager)
        if cfg.supervision.check:
            # Commitment breaches in the supervision store reach the checks (notice 893 §§9, 17).
            from creditguard.supervision.measures import PLUGIN_NAME, CommitmentBreaches

            self.plugin_manager.register(CommitmentBreaches.from_config(cfg), name=PLUGIN_NAME)
        #: What fetching the platform's lists did while this guard was built (spec §5.1)
        self.list_fetches = self._fetch_platform_lists(transport)
        self.catalog = self._build_catalog(measure_lists)
        self._sources: dict[str, RecordSource] = {}
        for src in sources if sources is not None else self._sources_from_config():
            if src.name in self._sources:
                raise ConfigError(f"two sources are named {src.name!r}")
            self._sources[src.name] = src
        # Protocol isinstance checks cost microseconds; classify each source once.
        self._local_sources: dict[str, LocalSource] = {}
        self._http_sources: dict[str, HttpSource] = {}
        for n, src in self._sources.items():
            if isinstance(src, LocalSource):
                self._local_sources[n] = src
            elif isinstance(src, HttpSource):
                self._http_sources[n] = src
            else:
                raise ConfigError(f"source {n!r} is neither a LocalSource nor an HttpSource")
        # Local sources that can tell a clean subject without a lookup (MembershipProbe).
        self._probes: dict[str, Callable[[str], datetime | None]] = {
            n: src.absent
            for n, src in self._local_sources.items()
            if isinstance(src, MembershipProbe)
        }
        self.cache = RecordCache(ttl=cfg.guard.cache_ttl_s, maxsize=cfg.guard.cache_size)
        # Spec §4.0: the platform is the authority for a listing's status. A source speaks
        # for it when it says so (the platform adapter, a mirror kept from the push feed)
        # or, built from the configuration, when its type is "platform".
        typed = (
            {sc.name for sc in cfg.sources if sc.type == "platform"} if sources is None else set()
        )
        platform = {
            n
            for n, src in self._sources.items()
            if n in typed or getattr(src, "speaks_for_platform", False) is True
        }
        f = cfg.failure
        self.engine = Engine(
            catalog=self.catalog,
            sources=list(self._sources),
            cache=self.cache,
            hooks=self.hooks,
            failure=FailurePolicy(f.default, dict(f.steps), f.stale_fallback, f.max_stale_s),
            commitment_steps=cfg.guard.commitment_steps,
            steps=cfg.guard.steps,
            platform_sources=platform,
        )
        self.deadline = cfg.guard.deadline_ms / 1000
        self._transport = transport
        #: Cases and feedback (``[outbox]``); None when the outbox is off.
        self.cases: CaseDesk | None = open_case_desk(
            cfg, self.plugin_manager, transport=_sync_transport(transport)
        )
        self.journal: DecisionJournal | PostgresJournal | None = None
        enabled = cfg.journal.enabled if journal is None else bool(journal)
        if enabled:
            # A file (resolved from the config's folder) or a postgresql:// DSN shared by hosts.
            given = journal if isinstance(journal, (str, os.PathLike)) else None
            self.journal = open_journal(
                journal_target(cfg, given), flush_interval=cfg.journal.flush_interval_s
            )

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        sources: Sequence[RecordSource] | None = None,
        measure_lists: Iterable[MeasureList] = (),
        plugins: Iterable[object] = (),
        load_entrypoints: bool = True,
        journal: bool | str | os.PathLike[str] | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> Self:
        """Build from a ``creditguard.toml`` (argument, else ``$CREDITGUARD_CONFIG``).

        The keyword arguments are the constructor's, e.g.
        ``Guard.from_config("creditguard.toml", plugins=[my_plugin])``.
        Raises :class:`~creditguard.errors.ConfigError` when neither names a file.
        """
        return cls(
            load_config(path, required=True),
            sources=sources,
            measure_lists=measure_lists,
            plugins=plugins,
            load_entrypoints=load_entrypoints,
            journal=journal,
            transport=transport,
        )

    # -- construction helpers --------------------------------------------------------

    def _fetch_platform_lists(
        self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None
    ) -> list[ListFetch]:
        # [measures] platform_regions missing or older than platform_refresh_s: fetched
        # now, bounded by platform_fetch_timeout_s; the kept list stays on failure.
        from creditguard.measures.platform_sync import fetch_due_lists

        return fetch_due_lists(
            self.config, self.plugin_manager, transport=_sync_transport(transport)
        )

    def _build_catalog(self, extra: Iterable[MeasureList]) -> MeasureCatalog:
        # [measures] files and packs, conflicts, origins and validation: one place for it.
        from creditguard.measures.installed import build_catalog

        return build_catalog(self.config, self.hooks, extra)

    def _sources_from_config(self) -> list[Any]:
        factories = self.hooks.register_sources()
        built = []
        for sc in self.config.sources:
            factory = factories.get(sc.type)
            if factory is None:
                known = ", ".join(sorted(factories)) or "none"
                raise ConfigError(
                    f"source {sc.name!r}: unknown type {sc.type!r} (installed types: {known}); "
                    "is its adapter distribution installed?"
                )
            options = sc.options
            # Where the guard keeps its files, for factories that name these parameters.
            params = inspect.signature(factory).parameters
            for key, value in (
                ("data_dir", str(self.config.data_dir)),
                ("base_dir", self.config.base_dir),
            ):
                if key in params and params[key].kind is not inspect.Parameter.VAR_KEYWORD:
                    options.setdefault(key, value)
            try:
                built.append(factory(name=sc.name, **options))
            except CreditGuardError:
                raise
            except TypeError as exc:
                raise ConfigError(f"source {sc.name!r} (type {sc.type}): {exc}") from exc
        return built

    # -- shared bits ---------------------------------------------------------------------

    @property
    def sources(self) -> Mapping[str, RecordSource]:
        """The configured record sources by name."""
        return dict(self._sources)

    def invalidate(self, code: str) -> int:
        """Forget cached records of ``code`` (after a push event, say)."""
        return self.cache.invalidate(code)

    def _after(
        self, decision: Decision, context: Mapping[str, object] | None, *, shared: bool = True
    ) -> None:
        # shared=False: a screened decision, whose records and measures are its own.
        if self.journal is not None:
            self.journal.append(decision, shared=shared)
        if self.hooks.has_observers:
            self.hooks.decision_made(decision, context or {})

    def _quick_clean(self, plan: Plan) -> Decision | None:
        """The clean decision, when every source still to ask is certain it holds nothing.

        Most subjects are clean: a local source's membership filter says so
        without SQL (:class:`~creditguard.sources.MembershipProbe`). Any doubt
        (a remote source to ask, a probe that cannot tell or fails) returns
        None and the check looks the subject up as usual.
        """
        probes = self._probes
        if not probes or self.hooks.has_extra_measures:
            return None  # (plugins see every subject: Engine.clean would refuse anyway)
        code = plan.sc.code
        absent: list[tuple[str, datetime]] = []
        for op in plan.missing:
            probe = probes.get(op.source)
            if probe is None:
                return None
            try:
                as_of = probe(code)
            except Exception:  # the lookup that follows reports it
                return None
            if as_of is None:
                return None
            absent.append((op.source, as_of))
        return self.engine.clean(plan, absent)

    def _plan_block(
        self,
        rows: Sequence[tuple[int, str]],
        step: str,
        region: str,
        as_of: date | None,
        context: Mapping[str, object] | None,
    ) -> Block:
        """Plan a screening block; its clean subjects are decided by the membership probe."""
        return plan_block(
            self.engine,
            rows,
            step=step,
            region=region,
            as_of=as_of,
            context=context,
            quick=self._quick_clean,
        )

    def _local(self, source: LocalSource, op: Fetch) -> Fetched:
        try:
            records = source.lookup(op.codes, include_related=op.include_related)
        except SourceError as exc:
            return Fetched(None, exc, datetime.now(CST))
        except Exception as exc:  # a broken local store must not crash the check
            return self._source_failed(op, exc)
        return Fetched(records, None, datetime.now(CST))

    @staticmethod
    def _source_failed(op: Fetch, exc: Exception) -> Fetched:
        """A source's own bug (not a SourceError): the records were not obtained.

        Never a crash and never "no record": the step's failure policy decides,
        as for an outage. The message is masked (it may quote the data).
        """
        from creditguard.masking import mask_text

        text = mask_text(f"lookup failed: {type(exc).__name__}: {exc}")
        return Fetched(None, SourceUnavailable(text, source=op.source), datetime.now(CST))

    def _require_cases(self) -> CaseDesk:
        if self.cases is None:
            raise ConfigError(
                "cases need the outbox: set [guard] unit_code (and [outbox]) in the configuration"
            )
        return self.cases

    def deliver_now(self, *, timeout: float = 5.0) -> bool:
        """Deliver what is due now and wait for deliveries in flight; True when none is left.

        The background worker delivers on its own; call this in tests (to
        assert what the platform received) or before a planned shutdown. Items
        waiting for a later retry (after a 5xx, say) are not forced.
        """
        desk = self._require_cases()
        if desk.worker is None:
            raise ConfigError(
                "no platform to deliver to: add a [[sources]] entry of type 'platform'"
            )
        end = time.monotonic() + timeout
        while True:
            desk.worker.deliverer.deliver_due()
            status = desk.outbox.status(now=time.time())
            if status.due == 0 and status.in_flight == 0:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.01)  # another deliverer holds a lease: let it finish

    _driver: Any = None
    _driver_class: str  # the creditguard.remote.driver class this guard's I/O style needs

    def _get_driver(self) -> Any:
        # Created on first remote lookup: a guard with only local sources never imports httpx.
        if self._driver is None:
            from creditguard.remote import driver
            from creditguard.remote.policy import RemoteSettings

            cls = getattr(driver, self._driver_class)
            self._driver = cls(RemoteSettings(deadline_s=self.deadline), transport=self._transport)
        return self._driver

    def close(self) -> None:
        """Flush the journal, drain the outbox worker and close connections."""
        if self.journal is not None:
            self.journal.close()
        if self.cases is not None:
            self.cases.close()
        breaches = self.plugin_manager.get_plugin("creditguard-supervision")
        if breaches is not None and callable(getattr(breaches, "close", None)):
            breaches.close()


def _sync_transport(
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
) -> httpx.BaseTransport | None:
    """The transport the outbox's (threaded, synchronous) delivery can use, if any."""
    if transport is None:
        return None
    import httpx  # a transport was given, so httpx is in use already

    return transport if isinstance(transport, httpx.BaseTransport) else None
