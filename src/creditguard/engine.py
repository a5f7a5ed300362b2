"""The check engine: all business logic of a check, free of I/O.

:meth:`Engine.check_flow` is a generator in the style of httpx's auth flows:
it yields the lookups it needs (a list of :class:`Fetch`, one per source
whose records are not cached) and receives their answers (a list of
:class:`Fetched`), then returns the :class:`~creditguard.models.Decision`.
:class:`~creditguard.guard.Guard` and :class:`~creditguard.guard.AsyncGuard`
only perform the lookups, so both give the same decisions by construction.
A warm check (records cached) never yields.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from creditguard.cache import RecordCache
from creditguard.codes import SubjectCode, parse_code
from creditguard.errors import InputError, RecordsUnavailable, SourceError
from creditguard.measures.catalog import MeasureCatalog, ResolvedMeasure
from creditguard.models import (
    AppliedMeasure,
    CreditRecord,
    Decision,
    EffectiveRecord,
    PossibleMatch,
    Provenance,
    SubjectRecords,
)
from creditguard.plugins import Hooks
from creditguard.rules import DEFAULT_COMMITMENT_STEPS, combine, match_measure, outcome_of, step_matches, stricter

__all__ = ["CST", "Engine", "FailurePolicy", "Fetch", "Fetched", "today_cst"]

#: China Standard Time: the platform's dates are CST dates.
CST = timezone(timedelta(hours=8), "CST")

Flow = Generator[list["Fetch"], list["Fetched"], Decision]


def today_cst() -> date:
    """Today's date in China Standard Time."""
    return datetime.now(CST).date()


@dataclass(frozen=True, slots=True)
class Fetch:
    """A lookup the engine asks a driver to perform."""

    source: str
    codes: tuple[str, ...]
    include_related: bool


@dataclass(frozen=True, slots=True)
class Fetched:
    """A driver's answer to one :class:`Fetch`: records, or the error that prevented them."""

    records: Mapping[str, SubjectRecords] | None
    error: SourceError | None
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """What a step does when records cannot be obtained: hold, allow, stale or raise."""

    default: str = "hold"
    steps: Mapping[str, str] = field(default_factory=dict)
    stale_fallback: str = "hold"
    max_stale: float = 86400.0

    def for_step(self, step: str) -> str:
        """The policy of ``step``: an exact entry, else the first matching glob, else the default."""
        exact = self.steps.get(step)
        if exact is not None:
            return exact
        for pattern, policy in self.steps.items():
            if step_matches(step, (pattern,)):
                return policy
        return self.default


class _Ids:
    """Decision ids: a random per-process prefix and a counter (re-seeded after fork)."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self.prefix = "d-" + secrets.token_hex(5) + "-"
        self.counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):08x}"


_IDS = _Ids()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_IDS.reseed)


class Engine:
    """Decides; never performs I/O. Shared by the sync and async guards."""

    def __init__(
        self,
        *,
        catalog: MeasureCatalog,
        sources: Sequence[str],
        cache: RecordCache,
        hooks: Hooks,
        failure: FailurePolicy | None = None,
        commitment_steps: Sequence[str] = DEFAULT_COMMITMENT_STEPS,
        now: Callable[[], datetime] = lambda: datetime.now(CST),
    ) -> None:
        self.catalog = catalog
        self.sources = tuple(sources)
        self.cache = cache
        self.hooks = hooks
        self.failure = failure or FailurePolicy()
        self.commitment_steps = tuple(commitment_steps)
        self.now = now

    # -- the flow ------------------------------------------------------------------

    def check_flow(
        self,
        subject: str | SubjectCode,
        *,
        step: str,
        region: str,
        as_of: date | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Flow:
        """Yield the lookups needed, receive their answers, return the decision."""
        sc = subject if isinstance(subject, SubjectCode) else parse_code(subject)
        _check_step_region(step, region)
        day = as_of if as_of is not None else today_cst()
        resolved = self.catalog.resolve(region, day)
        candidates = resolved.candidates(step)
        related = sc.kind == "person" and any(rm.measure.extends_to for rm in candidates)
        gathered: list[tuple[str, SubjectRecords, datetime, bool]] = []
        missing: list[Fetch] = []
        for name in self.sources:
            entry = self.cache.fresh(name, sc.code, related)
            if entry is None:
                missing.append(Fetch(name, (sc.code,), related))
            else:
                gathered.append((name, entry.records, entry.fetched_at, False))
        failures: list[tuple[str, SourceError]] = []
        if missing:
            answers = yield missing
            for fetch, answer in zip(missing, answers, strict=True):
                got = answer.records.get(sc.code) if answer.records is not None else None
                if answer.error is None and got is not None:
                    self.cache.put(fetch.source, sc.code, related, got, answer.fetched_at)
                    gathered.append((fetch.source, got, answer.fetched_at, False))
                else:
                    err = answer.error or SourceError("answer lacks the subject", source=fetch.source)
                    failures.append((fetch.source, err))
        return self.decide(sc, step, region, day, resolved.region, resolved.version, candidates,
                           gathered, failures, related, context or {})

    # -- the decision --------------------------------------------------------------

    def decide(
        self,
        sc: SubjectCode,
        step: str,
        region: str,
        day: date,
        list_region: str,
        list_version: str,
        candidates: Sequence[ResolvedMeasure],
        gathered: list[tuple[str, SubjectRecords, datetime, bool]],
        failures: list[tuple[str, SourceError]],
        related: bool,
        context: Mapping[str, Any],
    ) -> Decision:
        """Turn records and failures into a decision (pure apart from hooks)."""
        policy = None
        reason = None
        if failures:
            policy = self.failure.for_step(step)
            if policy == "stale":
                still: list[tuple[str, SourceError]] = []
                for name, err in failures:
                    entry = self.cache.stale(name, sc.code, related, self.failure.max_stale)
                    if entry is None:
                        still.append((name, err))
                    else:
                        gathered.append((name, entry.records, entry.fetched_at, True))
                failures = still
                policy = self.failure.stale_fallback
            if failures:
                reason = "; ".join(f"{name}: {err}" for name, err in failures)
                if policy == "raise":
                    raise RecordsUnavailable(f"credit records unavailable ({reason})", cause=failures[0][1])

        records, name, possible = _merge(gathered, sc.code, day)
        provenance = tuple(
            Provenance.model_construct(source=src, fetched_at=at, stale=stale, found=sr.found, error=None)
            for src, sr, at, stale in gathered
        ) + tuple(
            Provenance.model_construct(source=src, fetched_at=self.now(), stale=False, found=False, error=str(err))
            for src, err in failures
        )
        measures: tuple[AppliedMeasure, ...] = ()
        conditions: tuple[AppliedMeasure, ...] = ()
        if records:
            found: list[AppliedMeasure] = []
            for rm in candidates:
                am = match_measure(rm.measure, records, day, list_region=rm.list_region)
                if am is not None:
                    found.append(am)
            if self.hooks.has_extra_measures:
                found.extend(self.hooks.extra_measures(sc, step, region, day, records, context))
            measures, conditions = combine(found, step, self.commitment_steps)
        outcome = outcome_of(measures)
        if failures and policy == "hold":
            outcome = stricter(outcome, "review")
        decision = Decision.model_construct(
            decision_id=_IDS.next(),
            subject_code=sc.code,
            subject_kind=sc.kind,
            subject_name=name,
            step=step,
            region=region,
            as_of=day,
            outcome=outcome,
            records=records,
            measures=measures,
            conditions=conditions,
            list_region=list_region,
            list_version=list_version,
            provenance=provenance,
            possible_matches=possible,
            verified=not failures,
            stale=any(g[3] for g in gathered),
            degraded_reason=reason,
            decided_at=self.now(),
        )
        return decision


def _check_step_region(step: str, region: str) -> None:
    if not step or not isinstance(step, str):
        raise InputError("step must be a workflow step name such as 'procurement.bid'")
    if not (isinstance(region, str) and len(region) == 6 and region.isdigit()):
        raise InputError(f"region must be a 6-digit division code such as '320100', got {region!r}")


def _merge(
    gathered: list[tuple[str, SubjectRecords, datetime, bool]], code: str, day: date
) -> tuple[tuple[EffectiveRecord, ...], str | None, tuple[PossibleMatch, ...]]:
    """Records with effect from every source, duplicates collapsed (first source wins).

    Two records are the same when they share a record id, or the same
    identifying authority and decision number.
    """
    out: list[EffectiveRecord] = []
    seen_ids: set[str] = set()
    seen_basis: set[tuple[str, str, str]] = set()
    name = None
    possible: list[PossibleMatch] = []
    for source, sr, _at, _stale in gathered:
        if name is None and sr.subject is not None:
            name = sr.subject.name
        possible.extend(sr.possible_matches)
        for rec in sr.records:
            if not rec.has_effect(day):
                continue
            if rec.record_id in seen_ids:
                continue
            key = (rec.authority.code or rec.authority.name, rec.basis, rec.via or "")
            if rec.basis and key in seen_basis:
                continue
            seen_ids.add(rec.record_id)
            if rec.basis:
                seen_basis.add(key)
            out.append(EffectiveRecord.model_construct(record=rec, source=source, subject_code=rec.via or code))
    return tuple(out), name, tuple(possible)


def records_without_effect(records: Sequence[CreditRecord], day: date) -> list[tuple[CreditRecord, str]]:
    """Records that have no effect on ``day``, each with the plain reason (for feedback)."""
    out = []
    for rec in records:
        why = rec.why_no_effect(day)
        if why is not None:
            out.append((rec, why))
    return out
