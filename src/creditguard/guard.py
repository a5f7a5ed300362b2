"""The guard: what an approval system calls before a workflow step.

:class:`Guard` (sync) and :class:`AsyncGuard` (async) share one
:class:`~creditguard.engine.Engine` and the step logic of
:mod:`creditguard._stepflow`; they only perform the lookups and writes those
ask for, each in its own I/O style, so both give the same decisions. Build one
per application (it holds connection pools, caches and the journal) and share
it between threads. Construction is in :mod:`creditguard._guard_base`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from creditguard._guard_base import GuardBase
from creditguard._stepflow import (
    StepBinding,
    ValueOrFunction,
    feed_back_denied,
    feedback_plan,
    feeds_back,
    opens_case,
    write_feedback,
)
from creditguard.engine import CST, Fetch, Fetched
from creditguard.errors import InputError, SourceError
from creditguard.screening import (
    ScreenResult,
    blocks,
    check_target,
    finish_block,
)

if TYPE_CHECKING:
    from creditguard.cases import OpenCase
    from creditguard.codes import SubjectCode
    from creditguard.models import Decision
    from creditguard.outbox import OutboxItem

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["AsyncGuard", "Guard"]


class Guard(GuardBase):
    """Synchronous guard: ``guard.check(code, step=..., region=...) -> Decision``."""

    _driver_class = "SyncDriver"

    def check(
        self,
        subject: str | SubjectCode,
        *,
        step: str,
        region: str,
        as_of: date | None = None,
        context: Mapping[str, object] | None = None,
        open_case: bool = True,
        workflow_ref: str | None = None,
    ) -> Decision:
        """Decide whether ``subject`` may pass ``step`` in ``region`` (on ``as_of``, default today).

        When the decision applies measures and the outbox is on, the case is
        initiated (written durably) before this returns; ``open_case=False``
        skips that for a mere preview. ``workflow_ref`` (the application's
        reference in the integrator's system) makes the case the
        application's for this step: checking again — a retry, in any process
        — reuses it instead of opening a second one. Raises
        :class:`~creditguard.errors.InvalidCodeError` for a malformed code and
        :class:`~creditguard.errors.RecordsUnavailable` only when the step's
        failure policy is ``raise``.
        """
        plan = self.engine.plan(subject, step=step, region=region, as_of=as_of, context=context)
        if not plan.missing:
            decision = self.engine.finish(plan)
        elif (quick := self._quick_clean(plan)) is not None:
            decision = quick
        else:
            deadline = time.monotonic() + self.deadline
            decision = self.engine.finish(
                plan, [self._perform(op, deadline) for op in plan.missing]
            )
        self._after(decision, context)
        if self.cases is not None and opens_case(
            self.cases, decision, open_case=open_case, workflow_ref=workflow_ref
        ):
            self.cases.opened(decision, workflow_ref=workflow_ref)
        return decision

    def feedback(
        self,
        decision: Decision,
        *,
        actions: Mapping[str, str | tuple[str, str]] | None = None,
        detail: str = "",
        workflow_ref: str | None = None,
        connection: object | None = None,
    ) -> list[OutboxItem]:
        """Report what the workflow did: one feedback entry per applied measure, written durably.

        Measures not named in ``actions`` get the action of their effect
        (deny → ``denied`` …). A measure whose records have lost effect by now
        (repaired, removed, expired; looked up again) is fed back ``not_applied``
        with the reason. ``connection`` writes through the integrator's own
        database connection, inside its transaction.
        """
        desk = self._require_cases()
        plan = feedback_plan(self.engine, decision)
        if plan is None:
            return []
        deadline = time.monotonic() + self.deadline
        answers = [self._perform(op, deadline) for op in plan.missing]
        return write_feedback(
            desk,
            decision,
            plan,
            answers,
            actions=actions,
            detail=detail,
            workflow_ref=workflow_ref,
            connection=connection,
        )

    def open_case(self, *, workflow_ref: str, step: str) -> OpenCase | None:
        """The case of application ``workflow_ref`` at ``step`` still waiting for feedback, or None.

        For resuming after a crash: the case as its first durable write froze
        it (subject, measures, when it was opened), found from any process.
        """
        return self._require_cases().open_case(application=workflow_ref, step=step)

    def resume_case(
        self,
        *,
        workflow_ref: str,
        step: str,
        actions: Mapping[str, str | tuple[str, str]] | None = None,
        detail: str = "",
        connection: object | None = None,
    ) -> list[OutboxItem]:
        """Feed back the open case of application ``workflow_ref`` at ``step``; [] when none is open.

        Each measure the case applied gets the action of its effect unless
        ``actions`` names another; use it when the step is known to have
        completed (or, with ``not_applied`` and a reason, not to have).
        """
        return self._require_cases().resume(
            application=workflow_ref,
            step=step,
            actions=actions,
            detail=detail,
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
        context: Mapping[str, object] | None = None,
    ) -> Iterator[Decision]:
        """Check before a step, feed back after it completes.

        The block receives the decision and decides what to do with it; raise
        :class:`~creditguard.case_desk.StepDenied` to refuse the step (fed back
        as decided: each measure's action from the facts at decision time, even
        if a record was repaired since). An other exception means the step did not complete: nothing is
        fed back and the case stays open.
        """
        decision = self.check(
            subject, step=step, region=region, context=context, workflow_ref=workflow_ref
        )
        try:
            yield decision
        except BaseException as exc:
            if self.cases is not None and feeds_back(self.cases, decision, exc):
                # Refused: fed back as decided, not as the records read now.
                feed_back_denied(self.cases, decision, workflow_ref=workflow_ref)
            raise
        if feeds_back(self.cases, decision, None):
            self.feedback(decision, workflow_ref=workflow_ref)

    def step(
        self,
        step: str,
        *,
        region: str,
        subject: ValueOrFunction,
        workflow_ref: ValueOrFunction | None = None,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorate a step function: checked before, fed back after.

        ``subject`` (and ``workflow_ref``) are values or functions of the step's
        arguments. A ``deny`` decision raises :class:`~creditguard.case_desk.StepDenied`
        without running the step; otherwise the step runs, receiving the
        decision as ``decision=`` if it has such a parameter.
        """

        def wrap(fn: Callable[P, R]) -> Callable[P, R]:
            bound = StepBinding.of(
                fn, step=step, region=region, subject=subject, workflow_ref=workflow_ref
            )

            @functools.wraps(fn)
            def inner(*args: P.args, **kwargs: P.kwargs) -> R:
                code, ref = bound.resolve(args, kwargs)
                with self.checked(code, step=step, region=region, workflow_ref=ref) as decision:
                    bound.admit(decision, kwargs)
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
        context: Mapping[str, object] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[ScreenResult]:
        """Check many subjects for one step; results in input order, one per input.

        Lookups are batched per block of 500 subjects (one batch request per
        source), so 10,000 subjects cost 20 round trips, not 10,000. An
        invalid code yields a row with ``error`` set; it never fails the batch;
        a bad step or region raises before anything is checked.
        ``progress(n)`` is called after each block with the number of rows done.

        The whole list is held: use :meth:`iter_screen` for large batches
        (re-screening every licence holder), whose memory stays bounded.
        """
        return list(
            self.iter_screen(
                codes, step=step, region=region, as_of=as_of, context=context, progress=progress
            )
        )

    def iter_screen(
        self,
        codes: Iterable[str],
        *,
        step: str,
        region: str,
        as_of: date | None = None,
        context: Mapping[str, object] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Iterator[ScreenResult]:
        """Stream :meth:`screen`'s results: the same rows, in input order, block by block.

        ``codes`` is read lazily, one block of 500 at a time (an open file of
        a million lines is never held whole), and each result can be dropped
        once used, so memory stays bounded however many subjects are screened.
        A bad step or region (or a region without a measure list) raises here,
        before the first result; a bad code is its own row's ``error``.
        Every block is journaled and ``progress(n)`` called as it is decided,
        before its rows are yielded. Screening reads the record cache but
        does not fill it: a large batch would evict the subjects that checks
        beside it keep warm.
        """
        check_target(self.engine, step=step, region=region, as_of=as_of)

        def stream() -> Iterator[ScreenResult]:
            for rows in blocks(codes):
                block = self._plan_block(rows, step, region, as_of, context)
                deadline = time.monotonic() + self.deadline
                done = finish_block(
                    self.engine, block, [self._perform(f, deadline) for f in block.fetches]
                )
                for r in done:
                    if r.decision is not None:
                        self._after(r.decision, context, shared=False)
                if progress is not None:
                    progress(len(rows))
                yield from done

        return stream()

    def _perform(self, op: Fetch, deadline: float) -> Fetched:
        local = self._local_sources.get(op.source)
        if local is not None:
            return self._local(local, op)
        source = self._http_sources[op.source]
        driver = self._get_driver()
        try:
            records = driver.fetch(
                source, op.codes, include_related=op.include_related, deadline=deadline
            )
        except SourceError as exc:
            return Fetched(None, exc, datetime.now(CST))
        except Exception as exc:  # an adapter's bug: unverified under the policy, never a crash
            return self._source_failed(op, exc)
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


class AsyncGuard(GuardBase):
    """Asynchronous guard: ``await guard.check(code, step=..., region=...)``."""

    _driver_class = "AsyncDriver"

    async def check(
        self,
        subject: str | SubjectCode,
        *,
        step: str,
        region: str,
        as_of: date | None = None,
        context: Mapping[str, object] | None = None,
        open_case: bool = True,
        workflow_ref: str | None = None,
    ) -> Decision:
        """Async twin of :meth:`Guard.check`; same arguments, same decisions."""
        plan = self.engine.plan(subject, step=step, region=region, as_of=as_of, context=context)
        if not plan.missing:
            decision = self.engine.finish(plan)
        elif (quick := self._quick_clean(plan)) is not None:
            decision = quick
        else:
            deadline = time.monotonic() + self.deadline
            answers = await asyncio.gather(*(self._perform(op, deadline) for op in plan.missing))
            decision = self.engine.finish(plan, answers)
        self._after(decision, context)
        if self.cases is not None and opens_case(
            self.cases, decision, open_case=open_case, workflow_ref=workflow_ref
        ):
            # A durable (fsync'd) write: off the event loop.
            await asyncio.to_thread(
                functools.partial(self.cases.opened, decision, workflow_ref=workflow_ref)
            )
        return decision

    async def feedback(
        self,
        decision: Decision,
        *,
        actions: Mapping[str, str | tuple[str, str]] | None = None,
        detail: str = "",
        workflow_ref: str | None = None,
        connection: object | None = None,
    ) -> list[OutboxItem]:
        """Async twin of :meth:`Guard.feedback`."""
        desk = self._require_cases()
        plan = feedback_plan(self.engine, decision)
        if plan is None:
            return []
        deadline = time.monotonic() + self.deadline
        answers = await asyncio.gather(*(self._perform(op, deadline) for op in plan.missing))
        # A durable (fsync'd) write: off the event loop.
        return await asyncio.to_thread(
            functools.partial(
                write_feedback,
                desk,
                decision,
                plan,
                answers,
                actions=actions,
                detail=detail,
                workflow_ref=workflow_ref,
                connection=connection,
            )
        )

    async def open_case(self, *, workflow_ref: str, step: str) -> OpenCase | None:
        """Async twin of :meth:`Guard.open_case`."""
        desk = self._require_cases()
        return await asyncio.to_thread(
            functools.partial(desk.open_case, application=workflow_ref, step=step)
        )

    async def resume_case(
        self,
        *,
        workflow_ref: str,
        step: str,
        actions: Mapping[str, str | tuple[str, str]] | None = None,
        detail: str = "",
        connection: object | None = None,
    ) -> list[OutboxItem]:
        """Async twin of :meth:`Guard.resume_case` (the durable write runs off the event loop)."""
        desk = self._require_cases()
        return await asyncio.to_thread(
            functools.partial(
                desk.resume,
                application=workflow_ref,
                step=step,
                actions=actions,
                detail=detail,
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
        context: Mapping[str, object] | None = None,
    ) -> AsyncIterator[Decision]:
        """Async twin of :meth:`Guard.checked` (``async with``)."""
        decision = await self.check(
            subject, step=step, region=region, context=context, workflow_ref=workflow_ref
        )
        try:
            yield decision
        except BaseException as exc:
            if self.cases is not None and feeds_back(self.cases, decision, exc):
                # Refused: fed back as decided; a durable (fsync'd) write, off the event loop.
                await asyncio.to_thread(
                    functools.partial(
                        feed_back_denied, self.cases, decision, workflow_ref=workflow_ref
                    )
                )
            raise
        if feeds_back(self.cases, decision, None):
            await self.feedback(decision, workflow_ref=workflow_ref)

    def step(
        self,
        step: str,
        *,
        region: str,
        subject: ValueOrFunction,
        workflow_ref: ValueOrFunction | None = None,
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
        """Async twin of :meth:`Guard.step`, for ``async def`` step functions."""

        def wrap(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
            bound = StepBinding.of(
                fn, step=step, region=region, subject=subject, workflow_ref=workflow_ref
            )

            @functools.wraps(fn)
            async def inner(*args: P.args, **kwargs: P.kwargs) -> R:
                code, ref = bound.resolve(args, kwargs)
                async with self.checked(
                    code, step=step, region=region, workflow_ref=ref
                ) as decision:
                    bound.admit(decision, kwargs)
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
        context: Mapping[str, object] | None = None,
        progress: Callable[[int], None] | None = None,
        concurrency: int = 8,
    ) -> list[ScreenResult]:
        """Async twin of :meth:`Guard.screen`; up to ``concurrency`` blocks in flight.

        The whole list is held: use :meth:`iter_screen` for large batches.
        """
        stream = self.iter_screen(
            codes,
            step=step,
            region=region,
            as_of=as_of,
            context=context,
            progress=progress,
            concurrency=concurrency,
        )
        return [r async for r in stream]

    def iter_screen(
        self,
        codes: Iterable[str],
        *,
        step: str,
        region: str,
        as_of: date | None = None,
        context: Mapping[str, object] | None = None,
        progress: Callable[[int], None] | None = None,
        concurrency: int = 8,
    ) -> AsyncIterator[ScreenResult]:
        """Async twin of :meth:`Guard.iter_screen`: ``async for r in guard.iter_screen(...)``.

        Up to ``concurrency`` blocks are looked up at once (a window sliding
        over the input, never the whole batch), and rows are yielded in input
        order. ``codes`` is read lazily, at most ``concurrency`` blocks ahead
        of the row being yielded. A bad step or region raises here, before the
        first result. To stop early, close the stream (``contextlib.aclosing``):
        blocks still in flight are then cancelled.
        """
        check_target(self.engine, step=step, region=region, as_of=as_of)
        if not (isinstance(concurrency, int) and concurrency >= 1):
            raise InputError(f"concurrency must be a whole number ≥ 1, got {concurrency!r}")

        async def decide(rows: list[tuple[int, str]]) -> list[ScreenResult]:
            block = self._plan_block(rows, step, region, as_of, context)
            deadline = time.monotonic() + self.deadline
            answers = await asyncio.gather(*(self._perform(f, deadline) for f in block.fetches))
            return finish_block(self.engine, block, answers)

        async def stream() -> AsyncIterator[ScreenResult]:
            source = blocks(codes)
            window: deque[asyncio.Task[list[ScreenResult]]] = deque()
            try:
                while True:
                    while len(window) < concurrency:
                        rows = next(source, None)
                        if rows is None:
                            break
                        window.append(asyncio.ensure_future(decide(rows)))
                    if not window:
                        return
                    done = await window.popleft()
                    # Journaled and counted in input order, as the sync guard does.
                    for r in done:
                        if r.decision is not None:
                            self._after(r.decision, context, shared=False)
                    if progress is not None:
                        progress(len(done))
                    for r in done:
                        yield r
            finally:
                for task in window:
                    task.cancel()
                if window:
                    await asyncio.gather(*window, return_exceptions=True)

        return stream()

    async def _perform(self, op: Fetch, deadline: float) -> Fetched:
        local = self._local_sources.get(op.source)
        if local is not None:
            # Local lookups are indexed SQLite reads of microseconds: not worth a thread hop.
            return self._local(local, op)
        source = self._http_sources[op.source]
        driver = self._get_driver()
        try:
            records = await driver.fetch(
                source, op.codes, include_related=op.include_related, deadline=deadline
            )
        except SourceError as exc:
            return Fetched(None, exc, datetime.now(CST))
        except Exception as exc:  # an adapter's bug: unverified under the policy, never a crash
            return self._source_failed(op, exc)
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
