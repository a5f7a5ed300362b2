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
import re
import secrets
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from creditguard.cache import RecordCache
from creditguard.clock import CST, today_cst
from creditguard.codes import SubjectCode, parse_code
from creditguard.errors import InputError, RecordsUnavailable, SourceError
from creditguard.measures.catalog import MeasureCatalog, ResolvedMeasure
from creditguard.models import (
    AppliedMeasure,
    CreditRecord,
    Decision,
    EffectiveRecord,
    Outcome,
    PossibleMatch,
    Provenance,
    SubjectRecords,
    trusted,
)
from creditguard.plugins import Hooks
from creditguard.rules import (
    DEFAULT_COMMITMENT_STEPS,
    combine,
    match_measure,
    outcome_of,
    step_matches,
    stricter,
)

__all__ = ["CST", "Engine", "FailurePolicy", "Fetch", "Fetched", "Plan", "today_cst"]


Flow = Generator[list["Fetch"], list["Fetched"], Decision]
# (source name, records, fetched at, stale, provenance) of one source's answer
_Gathered = tuple[str, SubjectRecords, datetime, bool, Provenance]


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


@dataclass(slots=True)
class Plan:
    """A check in progress: the validated request, what is cached and what must be fetched."""

    sc: SubjectCode
    step: str
    region: str
    day: date
    list_region: str
    list_version: str
    candidates: tuple[ResolvedMeasure, ...]
    related: bool
    gathered: list[_Gathered]
    missing: list[Fetch]
    context: Mapping[str, Any]


_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class _Assessment:
    """The pure part of a decision, shared by repeated checks on the same data."""

    records: tuple[EffectiveRecord, ...]
    name: str | None
    possible: tuple[PossibleMatch, ...]
    found: tuple[AppliedMeasure, ...]
    measures: tuple[AppliedMeasure, ...]
    conditions: tuple[AppliedMeasure, ...]
    outcome: Outcome


_CLEAN = _Assessment((), None, (), (), (), (), "allow")


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
_MEMO_SIZE = 8192
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
        self._rank = {name: i for i, name in enumerate(self.sources)}
        self.cache = cache
        self.hooks = hooks
        self.failure = failure or FailurePolicy()
        self.commitment_steps = tuple(commitment_steps)
        self.now = now
        self._memo: dict[Any, Any] = {}
        self._valid_targets: set[tuple[str, str]] = set()

    # -- the flow ------------------------------------------------------------------

    def plan(
        self,
        subject: str | SubjectCode,
        *,
        step: str,
        region: str,
        as_of: date | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Plan:
        """Validate the request and find what is cached; ``plan.missing`` lists what to fetch."""
        sc = subject if isinstance(subject, SubjectCode) else parse_code(subject)
        if (step, region) not in self._valid_targets:
            _check_step_region(step, region)
            if len(self._valid_targets) < _MEMO_SIZE:
                self._valid_targets.add((step, region))
        day = as_of if as_of is not None else today_cst()
        resolved = self.catalog.resolve(region, day)
        candidates = resolved.candidates(step)
        related = sc.kind == "person" and any(rm.measure.extends_to for rm in candidates)
        gathered: list[_Gathered] = []
        missing: list[Fetch] = []
        for name in self.sources:
            entry = self.cache.fresh(name, sc.code, related)
            if entry is None:
                missing.append(Fetch(name, (sc.code,), related))
            else:
                gathered.append((name, entry.records, entry.fetched_at, False, entry.provenance))
        return Plan(
            sc,
            step,
            region,
            day,
            resolved.region,
            resolved.version,
            candidates,
            related,
            gathered,
            missing,
            context or _EMPTY,
        )

    def finish(self, plan: Plan, answers: Sequence[Fetched] = ()) -> Decision:
        """Take the answers to ``plan.missing`` (in order) and return the decision."""
        sc = plan.sc
        gathered = plan.gathered
        failures: list[tuple[str, SourceError]] = []
        if plan.missing:
            if len(answers) != len(plan.missing):
                raise ValueError("finish() needs one answer per fetch of plan.missing")
            for fetch, answer in zip(plan.missing, answers, strict=True):
                got = answer.records.get(sc.code) if answer.records is not None else None
                if answer.error is None and got is not None:
                    entry = self.cache.put(
                        fetch.source, sc.code, plan.related, got, answer.fetched_at
                    )
                    gathered.append((fetch.source, got, answer.fetched_at, False, entry.provenance))
                else:
                    err = answer.error or SourceError(
                        "answer lacks the subject", source=fetch.source
                    )
                    failures.append((fetch.source, err))
        return self.decide(plan, failures)

    def check_flow(
        self,
        subject: str | SubjectCode,
        *,
        step: str,
        region: str,
        as_of: date | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Flow:
        """The check as one generator: yield the lookups, receive their answers, return the decision."""
        p = self.plan(subject, step=step, region=region, as_of=as_of, context=context)
        answers: list[Fetched] = (yield p.missing) if p.missing else []
        return self.finish(p, answers)

    # -- the decision --------------------------------------------------------------

    def decide(self, plan: Plan, failures: list[tuple[str, SourceError]]) -> Decision:
        """Turn the plan's gathered records and the failures into a decision (pure apart from hooks)."""
        sc, step, region, day = plan.sc, plan.step, plan.region, plan.day
        gathered = plan.gathered
        policy = None
        reason = None
        notes: list[str] = []
        if failures:
            policy = self.failure.for_step(step)
            if policy == "stale":
                still: list[tuple[str, SourceError]] = []
                for name, err in failures:
                    entry = self.cache.stale(name, sc.code, plan.related, self.failure.max_stale)
                    if entry is None:
                        still.append((name, err))
                    else:
                        prov = entry.provenance.model_copy(update={"stale": True})
                        gathered.append((name, entry.records, entry.fetched_at, True, prov))
                        at = entry.fetched_at.strftime("%Y-%m-%d %H:%M")
                        notes.append(f"{_failure_text(name, err)} (used records fetched at {at})")
                failures = still
                policy = self.failure.stale_fallback
            if failures:
                notes.extend(_failure_text(name, err) for name, err in failures)
            reason = "; ".join(notes) or None
            if failures and policy == "raise":
                raise RecordsUnavailable(
                    f"credit records unavailable ({reason})", cause=failures[0][1]
                )

        if len(gathered) > 1:
            # Cached, fetched and stale answers arrive in any order; the configured source
            # order decides which copy of a duplicate record wins and how provenance reads.
            gathered.sort(key=lambda g: self._rank.get(g[0], len(self._rank)))
        a = self._assess(plan, gathered)
        records = a.records
        decided_at = self.now()
        stale = False
        provs = []
        for g in gathered:
            provs.append(g[4])
            stale = stale or g[3]
        for src, err in failures:
            provs.append(
                trusted(
                    Provenance,
                    source=src,
                    fetched_at=decided_at,
                    stale=False,
                    found=False,
                    error=str(err),
                    data_as_of=None,
                )
            )
        measures, conditions, outcome = a.measures, a.conditions, a.outcome
        if records and self.hooks.has_extra_measures:
            extra = self.hooks.extra_measures(sc, step, region, day, records, plan.context)
            if extra:
                measures, conditions = combine([*a.found, *extra], step, self.commitment_steps)
                outcome = outcome_of(measures)
        if failures and policy == "hold":
            outcome = stricter(outcome, "review")
        decision = trusted(
            Decision,
            decision_id=_IDS.next(),
            subject_code=sc.code,
            subject_kind=sc.kind,
            subject_name=a.name,
            step=step,
            region=region,
            as_of=day,
            outcome=outcome,
            records=records,
            measures=measures,
            conditions=conditions,
            list_region=plan.list_region,
            list_version=plan.list_version,
            provenance=tuple(provs),
            possible_matches=a.possible,
            verified=not failures,
            stale=stale,
            stale_age_s=None,
            replay_uses_current_status=False,
            degraded_reason=reason,
            decided_at=decided_at,
        )
        return decision

    # -- memoised pure part ----------------------------------------------------------
    # Warm checks see the very same cached SubjectRecords objects again and again, so
    # the pure part of a decision (records with effect, matched measures, outcome) is
    # memoised by the identity of its immutable inputs. Each entry keeps its inputs
    # alive, so an id() is never reused while it is a key.

    def _assess(self, plan: Plan, gathered: list[_Gathered]) -> _Assessment:
        if not any(g[1].records or g[1].possible_matches for g in gathered):
            # A clean subject: nothing to match, and not worth a memo slot.
            name = next((g[1].subject.name for g in gathered if g[1].subject is not None), None)
            return _CLEAN if name is None else _Assessment((), name, (), (), (), (), "allow")
        key = (
            plan.day,
            plan.step,
            id(plan.candidates),
            plan.sc.code,
            *[(g[0], id(g[1])) for g in gathered],
        )
        hit = self._memo.get(key)
        if hit is not None:
            return hit[1]  # type: ignore[no-any-return]
        records, name, possible = _merge(gathered, plan.sc.code, plan.day)
        found: list[AppliedMeasure] = []
        if records:
            for rm in plan.candidates:
                am = match_measure(rm.measure, records, plan.day, list_region=rm.list_region)
                if am is not None:
                    found.append(am)
        measures, conditions = combine(found, plan.step, self.commitment_steps)
        result = _Assessment(
            records, name, possible, tuple(found), measures, conditions, outcome_of(measures)
        )
        self._remember(self._memo, key, ((plan.candidates, tuple(g[1] for g in gathered)), result))
        return result

    @staticmethod
    def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()  # cheap bound; a warm working set refills it at once
        memo[key] = value


#: Spec §8: step names are dotted lower-case words (a glob or a capital would match no measure).
_STEP_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
_GOOD_STEPS: set[str] = set()


def _failure_text(name: str, err: SourceError) -> str:
    text = str(err)
    return text if text.startswith(f"{name}: ") else f"{name}: {text}"


def _check_step_region(step: str, region: str) -> None:
    if step not in _GOOD_STEPS:
        if not isinstance(step, str) or _STEP_RE.fullmatch(step) is None:
            raise InputError(
                f"step must be dotted lower-case words such as 'procurement.bid', got {step!r}"
            )
        if len(_GOOD_STEPS) < 4096:
            _GOOD_STEPS.add(step)
    if not (isinstance(region, str) and len(region) == 6 and region.isascii() and region.isdigit()):
        raise InputError(f"region must be a 6-digit division code such as '320100', got {region!r}")


def _merge(
    gathered: list[_Gathered], code: str, day: date
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
    for source, sr, _at, _stale, _p in gathered:
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
            out.append(
                trusted(
                    EffectiveRecord,
                    record=rec,
                    source=source,
                    subject_code=rec.via or code,
                    sources=(source,),
                )
            )
    return tuple(out), name, tuple(possible)


def records_without_effect(
    records: Sequence[CreditRecord], day: date
) -> list[tuple[CreditRecord, str]]:
    """Records that have no effect on ``day``, each with the plain reason (for feedback)."""
    out = []
    for rec in records:
        why = rec.why_no_effect(day)
        if why is not None:
            out.append((rec, why))
    return out
