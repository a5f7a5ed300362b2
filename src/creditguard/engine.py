"""The check engine: all business logic of a check, free of I/O.

A check is two calls: :meth:`Engine.plan` validates the request and lists
the lookups it needs (a :class:`Fetch` per source whose records are not
cached); :meth:`Engine.finish` takes their answers (a :class:`Fetched` each)
and returns the :class:`~creditguard.models.Decision`.
:class:`~creditguard.guard.Guard` and :class:`~creditguard.guard.AsyncGuard`
only perform the lookups, so both give the same decisions by construction.
A warm check (records cached) fetches nothing.

Records from every source are merged *before* their effect is judged (spec
§4.0): the same listing from several sources is one listing, and the
platform (or a mirror kept from its push feed) decides its status.
"""

from __future__ import annotations

import itertools
import os
import secrets
import weakref
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from creditguard._failure import FailurePolicy, apply_policy
from creditguard._memo import MEMO_SIZE, AssessmentMemo, decision_fields
from creditguard._merge import same_listing_key
from creditguard.cache import RecordCache, fetched_provenance
from creditguard.clock import CST, today_cst
from creditguard.codes import SubjectCode, parse_unmemoised
from creditguard.errors import InputError, InvalidCodeError, SourceError
from creditguard.measures.catalog import MeasureCatalog, ResolvedMeasure
from creditguard.models import (
    Decision,
    Provenance,
    SubjectRecords,
    adopt,
    trusted,
)
from creditguard.plugins import Hooks
from creditguard.rules import (
    DEFAULT_COMMITMENT_STEPS,
    combine,
    outcome_of,
    stricter,
)
from creditguard.steps import StepVocabulary

# The check's seams live in modules of their own: the failure policy (creditguard._failure),
# the memoised pure part and decision templates (creditguard._memo, a base of Engine) and
# the merging of listings (creditguard._merge). Their public names are re-exported here.

__all__ = [
    "CST",
    "Engine",
    "FailurePolicy",
    "Fetch",
    "Fetched",
    "Plan",
    "same_listing_key",
    "today_cst",
]


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
    #: the check is a replay: ``day`` lies before today
    replay: bool = False
    #: issuing body and weakest standing of the list in force (for the applicant's text)
    list_issued_by: str = ""
    list_standing: str = "official"
    #: measures of the lists in force refused by validation (spec §5.1), for provenance
    list_refused: tuple[str, ...] = ()
    #: the engine's clock when the plan was made; a check that fetches nothing is
    #: decided at this instant (one clock read per warm check)
    now: datetime | None = None
    #: the answers go to the record cache and the memos (not when screening)
    remember: bool = True


_EMPTY: Mapping[str, Any] = {}


class _Ids:
    """Decision ids: a random prefix per engine and process, and a counter."""

    def __init__(self) -> None:
        self.reseed()
        _ALL_IDS.add(self)

    def reseed(self) -> None:
        self.prefix = "d-" + secrets.token_hex(5) + "-"
        self.counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):08x}"


# Fork bookkeeping only (each engine owns its ids): a child re-seeds them all, so a
# forked worker never repeats its parent's decision ids.
_ALL_IDS: weakref.WeakSet[_Ids] = weakref.WeakSet()


def _reseed_all() -> None:
    for ids in list(_ALL_IDS):
        ids.reseed()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_all)


def _now_cst() -> datetime:
    return datetime.now(CST)


class Engine(AssessmentMemo):
    """Decides; never performs I/O. Shared by the sync and async guards.

    ``sources`` are the source names in configuration order;
    ``platform_sources`` those that speak for the credit platform (its
    adapter, a mirror kept from its push feed): their status of a listing
    wins (spec §4.0). ``steps`` are the integrator's own steps, accepted
    beside spec §8's. ``now`` is the clock (an aware datetime); a check's
    default day is its date in China Standard Time.
    """

    def __init__(
        self,
        *,
        catalog: MeasureCatalog,
        sources: Sequence[str],
        cache: RecordCache,
        hooks: Hooks,
        failure: FailurePolicy | None = None,
        commitment_steps: Sequence[str] = DEFAULT_COMMITMENT_STEPS,
        now: Callable[[], datetime] = _now_cst,
        steps: Iterable[str] = (),
        platform_sources: Collection[str] = (),
    ) -> None:
        self.catalog = catalog
        self.sources = tuple(sources)
        self._rank = {name: i for i, name in enumerate(self.sources)}
        self.platform_sources = frozenset(platform_sources)
        self.cache = cache
        self.hooks = hooks
        self.failure = failure or FailurePolicy()
        self.commitment_steps = tuple(commitment_steps)
        self.now = now
        self.steps = StepVocabulary(steps)
        self.steps.check_patterns(self.failure.steps, "[failure] steps")
        self.steps.check_patterns(self.commitment_steps, "[guard] commitment_steps")
        # Owned by this engine, not the module: the memo of pure assessments, the
        # (step, region) pairs already validated, and the decision id generator.
        self._memo: dict[Any, Any] = {}
        self._decided: dict[Any, Any] = {}
        self._codes: dict[str, tuple[date, SubjectCode]] = {}
        self._valid_targets: set[tuple[str, str]] = set()
        self._ids = _Ids()

    def today(self) -> date:
        """Today's date in China Standard Time, by this engine's clock."""
        return self.now().astimezone(CST).date()

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
        """Validate the request and find what is cached; ``plan.missing`` lists what to fetch.

        Raises :class:`~creditguard.errors.InvalidCodeError` for a code that is
        not valid (or not text at all), :class:`~creditguard.errors.UnknownStepError`
        for a step outside the vocabulary and :class:`~creditguard.errors.InputError`
        for a malformed region.
        """
        now = self.now()
        today = now.astimezone(CST).date()  # no conversion when the clock is already in CST
        if isinstance(subject, SubjectCode):
            sc = subject
        elif isinstance(subject, str):
            # parse_code is pure given the day (birth dates must not lie ahead of it): a
            # code parsed today by this engine's clock is reused until the day changes.
            known = self._codes.get(subject)
            if known is not None and known[0] == today:
                sc = known[1]
            else:
                sc = parse_unmemoised(subject, today=today)  # this memo is the engine's
                if len(self._codes) >= MEMO_SIZE:
                    self._codes.clear()
                self._codes[subject] = (today, sc)
        else:
            raise InvalidCodeError(
                "a subject code must be text such as '91320100MA1W2K7D41', "
                f"got {type(subject).__name__}"
            )
        if (step, region) not in self._valid_targets:
            self.steps.require(step)
            _check_region(region)
            if len(self._valid_targets) < MEMO_SIZE:
                self._valid_targets.add((step, region))
        day = as_of if as_of is not None else today
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
            day < today,
            list_issued_by=resolved.issued_by,
            list_standing=resolved.standing,
            list_refused=resolved.refused,
            now=now,
        )

    def finish(
        self, plan: Plan, answers: Sequence[Fetched] = (), *, remember: bool = True
    ) -> Decision:
        """Take the answers to ``plan.missing`` (in order) and return the decision.

        ``remember=False`` keeps the answers out of the record cache (batch
        screening: a million subjects would evict every warm one, and keep
        the collector walking them).
        """
        sc = plan.sc
        gathered = plan.gathered
        failures: list[tuple[str, SourceError]] = []
        if plan.missing:
            if len(answers) != len(plan.missing):
                raise ValueError("finish() needs one answer per fetch of plan.missing")
            plan.remember = remember
            for fetch, answer in zip(plan.missing, answers, strict=True):
                got = answer.records.get(sc.code) if answer.records is not None else None
                if answer.error is None and got is not None:
                    if remember:
                        prov = self.cache.put(
                            fetch.source, sc.code, plan.related, got, answer.fetched_at
                        ).provenance
                    else:
                        prov = fetched_provenance(fetch.source, got, answer.fetched_at)
                    gathered.append((fetch.source, got, answer.fetched_at, False, prov))
                else:
                    err = answer.error or SourceError(
                        "answer lacks the subject", source=fetch.source
                    )
                    failures.append((fetch.source, err))
        return self.decide(plan, failures)

    # -- the decision --------------------------------------------------------------

    def decide(self, plan: Plan, failures: list[tuple[str, SourceError]]) -> Decision:
        """Turn the plan's gathered records and the failures into a decision (pure apart from hooks).

        A decision is ``verified`` only when every source answered within this
        check's rules (fresh, or cached within the TTL); records used from the
        cache after a failure (policy ``stale``) make it ``stale`` and unverified,
        with their age in ``stale_age_s``.
        """
        gathered = plan.gathered
        sc = plan.sc
        # Every source answered within this check's rules (no failure, nothing stale).
        answered = not failures
        policy = reason = stale_age = None
        if failures:
            failures, policy, reason, stale_age = apply_policy(
                self.failure, self.cache, plan, failures
            )

        if len(gathered) > 1:
            # Cached, fetched and stale answers arrive in any order; the configured source
            # order breaks ties between copies of a listing and orders the provenance.
            gathered.sort(key=lambda g: self._rank.get(g[0], len(self._rank)))
        # A check that fetched nothing is decided when it was planned (same clock read).
        decided_at = plan.now if plan.now is not None and not plan.missing else self.now()
        # Read once per check: a plugin's extra measures (registered now or later) are asked
        # each time, with or without records (a measure may rest on other facts, such as a
        # broken commitment), so only a check with none may use the memoised decisions.
        extra_on = self.hooks.has_extra_measures
        if answered and not extra_on:
            for g in gathered:
                sr = g[1]
                if sr.records or sr.possible_matches or sr.subject is not None:
                    break
            else:
                # No source knows the subject: the usual clean decision, from its template.
                return self._clean(plan, tuple([g[4] for g in gathered]), decided_at)
            values = self._usual(plan, gathered, decided_at)[0].copy()
            # The copy keeps the field order; two fields change in place.
            values["decision_id"] = self._ids.next()
            values["decided_at"] = decided_at
            return adopt(Decision, values)
        a = self._assess(plan, gathered)
        step, region, day = plan.step, plan.region, plan.day
        records = a.records
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
        if extra_on:
            extra = self.hooks.extra_measures(sc, step, region, day, records, plan.context)
            if extra:
                measures, conditions = combine([*a.found, *extra], step, self.commitment_steps)
                outcome = outcome_of(measures)
        if failures and policy == "hold":
            outcome = stricter(outcome, "review")
        return adopt(
            Decision,
            decision_fields(
                plan,
                a,
                outcome=outcome,
                measures=measures,
                conditions=conditions,
                provenance=tuple(provs),
                # Records not fetched within this check's rules (stale) are never "verified".
                verified=not failures and not stale,
                stale=stale,
                stale_age_s=stale_age if stale else None,
                degraded_reason=reason,
                decision_id=self._ids.next(),
                decided_at=decided_at,
            ),
        )

    def clean(self, plan: Plan, absent: Sequence[tuple[str, datetime]]) -> Decision | None:
        """The decision when the sources still to ask are certain they hold nothing.

        ``absent`` names each source of ``plan.missing`` with the time of its
        data (see :class:`~creditguard.sources.MembershipProbe`). Returns None
        when the usual path must decide: a cached answer knows the subject, or
        plugins may add measures. Such answers are not cached: the probe that
        gave them is cheaper than the cache.
        """
        if self.hooks.has_extra_measures:
            return None
        gathered = plan.gathered
        for g in gathered:
            sr = g[1]
            if sr.records or sr.possible_matches or sr.subject is not None:
                return None
        decided_at = plan.now if plan.now is not None else self.now()
        answered = [
            (
                source,
                trusted(
                    Provenance,
                    source=source,
                    fetched_at=decided_at,
                    stale=False,
                    found=False,
                    error=None,
                    data_as_of=as_of,
                ),
            )
            for source, as_of in absent
        ]
        if gathered:
            answered += [(g[0], g[4]) for g in gathered]
            answered.sort(key=lambda a: self._rank.get(a[0], len(self._rank)))
        return self._clean(plan, tuple([a[1] for a in answered]), decided_at)

    def _clean(
        self, plan: Plan, provenance: tuple[Provenance, ...], decided_at: datetime
    ) -> Decision:
        """A clean decision (every source answered, none knows the subject), from its template."""
        values = self._clean_template(plan).copy()
        values["decision_id"] = self._ids.next()
        values["subject_code"] = plan.sc.code
        values["subject_kind"] = plan.sc.kind
        values["provenance"] = provenance
        values["decided_at"] = decided_at
        return adopt(Decision, values)


def _check_region(region: str) -> None:
    if not (isinstance(region, str) and len(region) == 6 and region.isascii() and region.isdigit()):
        raise InputError(f"region must be a 6-digit division code such as '320100', got {region!r}")
