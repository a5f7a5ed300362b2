"""The guard: what an approval system calls before a workflow step.

:class:`Guard` (sync) and :class:`AsyncGuard` (async) share one
:class:`~creditguard.engine.Engine`; they only perform the lookups it asks
for, so both give the same decisions. Build one per application (it holds
connection pools, caches and the journal) and share it between threads.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, Self, TypeVar

from creditguard.cache import RecordCache
from creditguard.codes import SubjectCode
from creditguard.config import Config, load_config
from creditguard.engine import CST, Engine, FailurePolicy, Fetch, Fetched, Plan
from creditguard.errors import (
    ConfigError,
    CreditGuardError,
    MeasureListError,
    SourceError,
    SourceUnavailable,
)
from creditguard.journal import DecisionJournal
from creditguard.measures.catalog import MeasureCatalog
from creditguard.measures.loader import load_measure_list
from creditguard.models import Decision, MeasureList
from creditguard.plugins import Hooks, build_plugin_manager
from creditguard.screening import ScreenResult, blocks, finish_block, plan_block
from creditguard.sources import HttpSource, LocalSource
from creditguard.workflow import CaseDesk, StepDenied, open_case_desk

if TYPE_CHECKING:
    from creditguard.models import CreditRecord
    from creditguard.outbox import OutboxItem

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["AsyncGuard", "Guard"]

log = logging.getLogger("creditguard")


class _GuardBase:
    """Construction shared by both guards: plugins, sources, lists, cache, journal."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        sources: Sequence[Any] | None = None,
        measure_lists: Iterable[MeasureList] = (),
        plugins: Iterable[object] = (),
        load_entrypoints: bool = True,
        journal: bool | str | os.PathLike[str] | None = None,
        transport: Any = None,
    ) -> None:
        if config is None and sources is None:
            # The defaults name an empty local mirror: a guard built on them would check
            # against no data. Sources passed directly (tests, embedding) are fine.
            raise ConfigError("no configuration: pass a Config (see load_config) or sources=")
        self.config = config or Config()
        cfg = self.config
        self.plugin_manager = build_plugin_manager(plugins, load_entrypoints=load_entrypoints)
        self.hooks = Hooks(self.plugin_manager)
        self.catalog = self._build_catalog(measure_lists)
        self._sources: dict[str, Any] = {}
        for src in sources if sources is not None else self._sources_from_config():
            if src.name in self._sources:
                raise ConfigError(f"two sources are named {src.name!r}")
            self._sources[src.name] = src
        # Protocol isinstance checks cost microseconds; classify each source once.
        self._local_sources = {
            n for n, src in self._sources.items() if isinstance(src, LocalSource)
        }
        for n, src in self._sources.items():
            if n not in self._local_sources and not isinstance(src, HttpSource):
                raise ConfigError(f"source {n!r} is neither a LocalSource nor an HttpSource")
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
        self.cases: CaseDesk | None = open_case_desk(cfg)
        self.journal: DecisionJournal | None = None
        enabled = cfg.journal.enabled if journal is None else bool(journal)
        if enabled:
            if isinstance(journal, (str, os.PathLike)):
                path = cfg.path(os.fspath(journal))
            elif cfg.journal.path:
                path = cfg.path(cfg.journal.path)
            else:
                path = cfg.data_dir / "journal.db"
            self.journal = DecisionJournal(path, flush_interval=cfg.journal.flush_interval_s)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Self:
        """Build from a ``creditguard.toml`` (argument, else ``$CREDITGUARD_CONFIG``).

        Raises :class:`~creditguard.errors.ConfigError` when neither names a file.
        """
        return cls(load_config(path, required=True), **kwargs)

    # -- construction helpers --------------------------------------------------------

    def _build_catalog(self, extra: Iterable[MeasureList]) -> MeasureCatalog:
        cfg = self.config
        catalog = MeasureCatalog(aliases=cfg.measures.aliases)
        if cfg.measures.packs:
            for lst in self.hooks.register_measures():
                catalog.add(lst)
        for path in cfg.measure_files():
            catalog.add(load_measure_list(path))
        for lst in extra:
            catalog.add(lst)
        # Lists are checked together (parents, cycles, widening) before any check may use them.
        errors = [p for p in catalog.problems() if p.severity == "error"]
        if errors:
            raise MeasureListError(errors)
        return catalog

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
    def sources(self) -> Mapping[str, Any]:
        """The configured record sources by name."""
        return dict(self._sources)

    def invalidate(self, code: str) -> int:
        """Forget cached records of ``code`` (after a push event, say)."""
        return self.cache.invalidate(code)

    def _after(self, decision: Decision, context: Mapping[str, Any] | None) -> None:
        if self.journal is not None:
            self.journal.append(decision)
        if self.hooks.has_observers:
            self.hooks.decision_made(decision, context or {})

    def _local(self, source: LocalSource, op: Fetch) -> Fetched:
        try:
            records = source.lookup(op.codes, include_related=op.include_related)
        except SourceError as exc:
            return Fetched(None, exc, datetime.now(CST))
        except Exception as exc:  # a broken local store must not crash the check
            err = SourceUnavailable(f"lookup failed: {exc}", source=op.source)
            return Fetched(None, err, datetime.now(CST))
        return Fetched(records, None, datetime.now(CST))

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

    @staticmethod
    def _records_of(
        decision: Decision, plan: Plan, answers: Sequence[Fetched]
    ) -> dict[str, CreditRecord] | None:
        """Current records by id from a plan's cached parts and fresh answers; None if a source failed.

        A record of the decision that no source holds any more comes back as
        ``removed``, so its measures are fed back ``not_applied``.
        """
        out: dict[str, CreditRecord] = {}
        for g in plan.gathered:
            out.update((r.record_id, r) for r in g[1].records)
        for answer in answers:
            if answer.error is not None or answer.records is None:
                return None
            got = answer.records.get(plan.sc.code)
            if got is None:
                return None  # the answer says nothing of the subject: no proof of removal
            out.update((r.record_id, r) for r in got.records)
        for er in decision.records:
            out.setdefault(er.record.record_id, er.record.model_copy(update={"status": "removed"}))
        return out

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


class Guard(_GuardBase):
    """Synchronous guard: ``guard.check(code, step=..., region=...) -> Decision``."""

    _driver_class = "SyncDriver"

    def check(
        self,
        subject: str | SubjectCode,
        *,
        step: str,
        region: str,
        as_of: date | None = None,
        context: Mapping[str, Any] | None = None,
        open_case: bool = True,
    ) -> Decision:
        """Decide whether ``subject`` may pass ``step`` in ``region`` (on ``as_of``, default today).

        When the decision applies measures and the outbox is on, the case is
        initiated (written durably) before this returns; ``open_case=False``
        skips that for a mere preview. Raises
        :class:`~creditguard.errors.InvalidCodeError` for a malformed code and
        :class:`~creditguard.errors.RecordsUnavailable` only when the step's
        failure policy is ``raise``.
        """
        plan = self.engine.plan(subject, step=step, region=region, as_of=as_of, context=context)
        if plan.missing:
            deadline = time.monotonic() + self.deadline
            decision = self.engine.finish(
                plan, [self._perform(op, deadline) for op in plan.missing]
            )
        else:
            decision = self.engine.finish(plan)
        self._after(decision, context)
        if open_case and decision.measures and self.cases is not None:
            self.cases.opened(decision)
        return decision

    def feedback(
        self,
        decision: Decision,
        *,
        actions: Mapping[str, str | tuple[str, str]] | None = None,
        detail: str = "",
        workflow_ref: str | None = None,
        connection: Any = None,
    ) -> list[OutboxItem]:
        """Report what the workflow did: one feedback entry per applied measure, written durably.

        Measures not named in ``actions`` get the action of their effect
        (deny → ``denied`` …). A measure whose records have lost effect by now
        (repaired, removed, expired; looked up again) is fed back ``not_applied``
        with the reason. ``connection`` writes through the integrator's own
        database connection, inside its transaction.
        """
        desk = self._require_cases()
        if not decision.measures:
            return []
        plan = self.engine.plan(decision.subject_code, step=decision.step, region=decision.region)
        deadline = time.monotonic() + self.deadline
        answers = [self._perform(op, deadline) for op in plan.missing]
        return desk.feedback(
            decision,
            actions=actions,
            detail=detail,
            workflow_ref=workflow_ref,
            current_records=self._records_of(decision, plan, answers),
            connection=connection,
        )

    @contextmanager
    def checked(
        self,
        subject: str | SubjectCode,
        *,
        step: str,
        region: str,
        workflow_ref: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Iterator[Decision]:
        """Check before a step, feed back after it completes.

        The block receives the decision and decides what to do with it; raise
        :class:`~creditguard.workflow.StepDenied` to refuse the step (fed back
        as done). An other exception means the step did not complete: nothing is
        fed back and the case stays open.
        """
        decision = self.check(subject, step=step, region=region, context=context)
        try:
            yield decision
        except StepDenied:
            if self.cases is not None:
                self.feedback(decision, workflow_ref=workflow_ref)
            raise
        if self.cases is not None and decision.measures:
            self.feedback(decision, workflow_ref=workflow_ref)

    def step(
        self,
        step: str,
        *,
        region: str,
        subject: Callable[..., str] | str,
        workflow_ref: Callable[..., str] | str | None = None,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorate a step function: checked before, fed back after.

        ``subject`` (and ``workflow_ref``) are values or functions of the step's
        arguments. A ``deny`` decision raises :class:`~creditguard.workflow.StepDenied`
        without running the step; otherwise the step runs, receiving the
        decision as ``decision=`` if it has such a parameter.
        """

        def wrap(fn: Callable[P, R]) -> Callable[P, R]:
            wants = "decision" in inspect.signature(fn).parameters

            @functools.wraps(fn)
            def inner(*args: P.args, **kwargs: P.kwargs) -> R:
                code = subject(*args, **kwargs) if callable(subject) else subject
                ref = workflow_ref(*args, **kwargs) if callable(workflow_ref) else workflow_ref
                with self.checked(code, step=step, region=region, workflow_ref=ref) as decision:
                    if decision.outcome == "deny":
                        raise StepDenied(decision)
                    if wants:
                        kwargs["decision"] = decision
                    return fn(*args, **kwargs)

            return inner

        return wrap

    def screen(
        self,
        codes: Iterable[str],
        *,
        step: str,
        region: str,
        as_of: date | None = None,
        context: Mapping[str, Any] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[ScreenResult]:
        """Check many subjects for one step; results in input order, one per input.

        Lookups are batched per block of 500 subjects (one batch request per
        source), so 10,000 subjects cost 20 round trips, not 10,000. An
        invalid code yields a row with ``error`` set; it never fails the batch.
        ``progress(n)`` is called after each block with the number of rows done.
        """
        results: list[ScreenResult] = []
        for rows in blocks(codes):
            block = plan_block(
                self.engine, rows, step=step, region=region, as_of=as_of, context=context
            )
            deadline = time.monotonic() + self.deadline
            done = finish_block(
                self.engine, block, [self._perform(f, deadline) for f in block.fetches]
            )
            for r in done:
                if r.decision is not None:
                    self._after(r.decision, context)
            results.extend(done)
            if progress is not None:
                progress(len(rows))
        return results

    def _perform(self, op: Fetch, deadline: float) -> Fetched:
        source = self._sources[op.source]
        if op.source in self._local_sources:
            return self._local(source, op)
        driver = self._get_driver()
        try:
            records = driver.fetch(
                source, op.codes, include_related=op.include_related, deadline=deadline
            )
        except SourceError as exc:
            return Fetched(None, exc, datetime.now(CST))
        return Fetched(records, None, datetime.now(CST))

    def close(self) -> None:
        """Flush the journal and close connections."""
        super().close()
        if self._driver is not None:
            self._driver.close()

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncGuard(_GuardBase):
    """Asynchronous guard: ``await guard.check(code, step=..., region=...)``."""

    _driver_class = "AsyncDriver"

    async def check(
        self,
        subject: str | SubjectCode,
        *,
        step: str,
        region: str,
        as_of: date | None = None,
        context: Mapping[str, Any] | None = None,
        open_case: bool = True,
    ) -> Decision:
        """Async twin of :meth:`Guard.check`; same arguments, same decisions."""
        plan = self.engine.plan(subject, step=step, region=region, as_of=as_of, context=context)
        if plan.missing:
            deadline = time.monotonic() + self.deadline
            answers = await asyncio.gather(*(self._perform(op, deadline) for op in plan.missing))
            decision = self.engine.finish(plan, answers)
        else:
            decision = self.engine.finish(plan)
        self._after(decision, context)
        if open_case and decision.measures and self.cases is not None:
            # A durable (fsync'd) write: off the event loop.
            await asyncio.to_thread(self.cases.opened, decision)
        return decision

    async def feedback(
        self,
        decision: Decision,
        *,
        actions: Mapping[str, str | tuple[str, str]] | None = None,
        detail: str = "",
        workflow_ref: str | None = None,
        connection: Any = None,
    ) -> list[OutboxItem]:
        """Async twin of :meth:`Guard.feedback`."""
        desk = self._require_cases()
        if not decision.measures:
            return []
        plan = self.engine.plan(decision.subject_code, step=decision.step, region=decision.region)
        deadline = time.monotonic() + self.deadline
        answers = await asyncio.gather(*(self._perform(op, deadline) for op in plan.missing))
        current = self._records_of(decision, plan, answers)
        return await asyncio.to_thread(
            functools.partial(
                desk.feedback,
                decision,
                actions=actions,
                detail=detail,
                workflow_ref=workflow_ref,
                current_records=current,
                connection=connection,
            )
        )

    @asynccontextmanager
    async def checked(
        self,
        subject: str | SubjectCode,
        *,
        step: str,
        region: str,
        workflow_ref: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[Decision]:
        """Async twin of :meth:`Guard.checked` (``async with``)."""
        decision = await self.check(subject, step=step, region=region, context=context)
        try:
            yield decision
        except StepDenied:
            if self.cases is not None:
                await self.feedback(decision, workflow_ref=workflow_ref)
            raise
        if self.cases is not None and decision.measures:
            await self.feedback(decision, workflow_ref=workflow_ref)

    def step(
        self,
        step: str,
        *,
        region: str,
        subject: Callable[..., str] | str,
        workflow_ref: Callable[..., str] | str | None = None,
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
        """Async twin of :meth:`Guard.step`, for ``async def`` step functions."""

        def wrap(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
            wants = "decision" in inspect.signature(fn).parameters

            @functools.wraps(fn)
            async def inner(*args: P.args, **kwargs: P.kwargs) -> R:
                code = subject(*args, **kwargs) if callable(subject) else subject
                ref = workflow_ref(*args, **kwargs) if callable(workflow_ref) else workflow_ref
                async with self.checked(
                    code, step=step, region=region, workflow_ref=ref
                ) as decision:
                    if decision.outcome == "deny":
                        raise StepDenied(decision)
                    if wants:
                        kwargs["decision"] = decision
                    return await fn(*args, **kwargs)

            return inner

        return wrap

    async def screen(
        self,
        codes: Iterable[str],
        *,
        step: str,
        region: str,
        as_of: date | None = None,
        context: Mapping[str, Any] | None = None,
        progress: Callable[[int], None] | None = None,
        concurrency: int = 8,
    ) -> list[ScreenResult]:
        """Async twin of :meth:`Guard.screen`; up to ``concurrency`` blocks in flight."""
        gate = asyncio.Semaphore(concurrency)

        async def run(rows: list[tuple[int, str]]) -> list[ScreenResult]:
            async with gate:
                block = plan_block(
                    self.engine, rows, step=step, region=region, as_of=as_of, context=context
                )
                deadline = time.monotonic() + self.deadline
                answers = await asyncio.gather(*(self._perform(f, deadline) for f in block.fetches))
                done = finish_block(self.engine, block, answers)
            for r in done:
                if r.decision is not None:
                    self._after(r.decision, context)
            if progress is not None:
                progress(len(rows))
            return done

        parts = await asyncio.gather(*(run(rows) for rows in blocks(codes)))
        return [r for part in parts for r in part]

    async def _perform(self, op: Fetch, deadline: float) -> Fetched:
        source = self._sources[op.source]
        if op.source in self._local_sources:
            # Local lookups are indexed SQLite reads of microseconds: not worth a thread hop.
            return self._local(source, op)
        driver = self._get_driver()
        try:
            records = await driver.fetch(
                source, op.codes, include_related=op.include_related, deadline=deadline
            )
        except SourceError as exc:
            return Fetched(None, exc, datetime.now(CST))
        return Fetched(records, None, datetime.now(CST))

    async def aclose(self) -> None:
        """Flush the journal, drain the outbox worker and close connections (off the event loop)."""
        await asyncio.to_thread(self.close)
        if self._driver is not None:
            await self._driver.aclose()

    async def __aenter__(self) -> AsyncGuard:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
