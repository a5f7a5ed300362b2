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
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from creditguard.cache import RecordCache
from creditguard.clock import CST, today_cst
from creditguard.codes import SubjectCode, parse_code
from creditguard.errors import InputError, InvalidCodeError, RecordsUnavailable, SourceError
from creditguard.explain import WORDING_VERSION
from creditguard.measures.catalog import MeasureCatalog, ResolvedMeasure
from creditguard.measures.instruments import normalise_title
from creditguard.models import (
    AppliedMeasure,
    CreditRecord,
    Decision,
    EffectiveRecord,
    Outcome,
    PossibleMatch,
    Provenance,
    SubjectRecords,
    adopt,
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
from creditguard.steps import StepVocabulary

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
    #: a replay judged a record without ``status_history`` by today's status
    replay_current: bool = False


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

_MEMO_SIZE = 8192


def _now_cst() -> datetime:
    return datetime.now(CST)


class Engine:
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
                sc = parse_code(subject, today=today)
                if len(self._codes) >= _MEMO_SIZE:
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
            if len(self._valid_targets) < _MEMO_SIZE:
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
            failures, policy, reason, stale_age = self._failed(plan, failures)

        if len(gathered) > 1:
            # Cached, fetched and stale answers arrive in any order; the configured source
            # order breaks ties between copies of a listing and orders the provenance.
            gathered.sort(key=lambda g: self._rank.get(g[0], len(self._rank)))
        # A check that fetched nothing is decided when it was planned (same clock read).
        decided_at = plan.now if plan.now is not None and not plan.missing else self.now()
        if answered and not self.hooks.has_extra_measures:
            for g in gathered:
                sr = g[1]
                if sr.records or sr.possible_matches or sr.subject is not None:
                    break
            else:
                # No source knows the subject: the usual clean decision, from its template.
                values = self._clean_template(plan).copy()
                values["decision_id"] = self._ids.next()
                values["subject_code"] = sc.code
                values["subject_kind"] = sc.kind
                values["provenance"] = tuple([g[4] for g in gathered])
                values["decided_at"] = decided_at
                return adopt(Decision, values)
            hit = self._usual(plan, gathered, decided_at)
            a = hit[1]
            # A plugin's extra measures (registered now or later) are asked each time, with
            # or without records: a measure may rest on other facts (a broken commitment).
            if not self.hooks.has_extra_measures:
                values = hit[0].copy()  # keeps the field order; two fields change in place
                values["decision_id"] = self._ids.next()
                values["decided_at"] = decided_at
                return adopt(Decision, values)
        else:
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
        if self.hooks.has_extra_measures:
            extra = self.hooks.extra_measures(sc, step, region, day, records, plan.context)
            if extra:
                measures, conditions = combine([*a.found, *extra], step, self.commitment_steps)
                outcome = outcome_of(measures)
        if failures and policy == "hold":
            outcome = stricter(outcome, "review")
        return adopt(
            Decision,
            _decision_fields(
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

    def _failed(
        self, plan: Plan, failures: list[tuple[str, SourceError]]
    ) -> tuple[list[tuple[str, SourceError]], str, str | None, float | None]:
        """Apply the step's failure policy: the failures left, the policy, the reason, stale age.

        Policy ``stale`` adds cached records (younger than ``max_stale``) of the
        failed sources to ``plan.gathered``, marked stale; ``raise`` raises
        :class:`~creditguard.errors.RecordsUnavailable`.
        """
        sc = plan.sc
        notes: list[str] = []
        stale_age: float | None = None
        policy = self.failure.for_step(plan.step)
        if policy == "stale":
            still: list[tuple[str, SourceError]] = []
            for name, err in failures:
                entry = self.cache.stale(name, sc.code, plan.related, self.failure.max_stale)
                if entry is None:
                    still.append((name, err))
                else:
                    prov = entry.provenance.model_copy(update={"stale": True})
                    plan.gathered.append((name, entry.records, entry.fetched_at, True, prov))
                    age = self.cache.age(entry)
                    stale_age = age if stale_age is None else max(stale_age, age)
                    at = entry.fetched_at.strftime("%Y-%m-%d %H:%M")
                    notes.append(f"{_failure_text(name, err)} (used records fetched at {at})")
            failures = still
            policy = self.failure.stale_fallback
        if failures:
            notes.extend(_failure_text(name, err) for name, err in failures)
        reason = "; ".join(notes) or None
        if failures and policy == "raise":
            raise RecordsUnavailable(f"credit records unavailable ({reason})", cause=failures[0][1])
        return failures, policy, reason, stale_age

    def _usual(
        self, plan: Plan, gathered: list[_Gathered], decided_at: datetime
    ) -> tuple[dict[str, Any], _Assessment, object]:
        """The fields of the usual decision (every source answered) and its assessment.

        They are fixed by the request, the list in force and the cached answers,
        so for a check that fetched nothing they are memoised by those
        (identities of immutable objects, each entry keeping them alive); each
        decision copies them and sets only its id and time. A check that
        fetched has new answers, never seen again unless cached: the next warm
        check of them fills the memo.
        """
        key = None
        if not plan.missing:
            key = (
                plan.day,
                plan.replay,
                plan.step,
                plan.region,
                plan.sc.code,
                id(plan.candidates),
                plan.list_region,
                plan.list_version,
                plan.list_issued_by,
                plan.list_standing,
                *[i for g in gathered for i in (id(g[1]), id(g[4]))],
            )
            hit: tuple[dict[str, Any], _Assessment, object] | None = self._decided.get(key)
            if hit is not None:
                return hit
        a = self._assess(plan, gathered)
        fields = _decision_fields(
            plan,
            a,
            outcome=a.outcome,
            measures=a.measures,
            conditions=a.conditions,
            provenance=tuple([g[4] for g in gathered]),
            verified=True,
            stale=False,
            stale_age_s=None,
            degraded_reason=None,
            decision_id="",
            decided_at=decided_at,
        )
        made = (fields, a, (plan.candidates, tuple(gathered)))
        if key is not None:
            self._remember(self._decided, key, made)
        return made

    def _clean_template(self, plan: Plan) -> dict[str, Any]:
        """The fields of a clean decision (every source answered, none knows the subject).

        Such a decision is fixed by the step, region, day and list in force: no
        record to merge, no measure to match, no plugin asked for extra
        measures (they only see records). Only the subject, the provenance, the
        id and the time differ between checks, so the rest is kept per
        (day, replay, step, region, list in force); the entry holds the
        candidates alive, whose identity is part of the key.
        """
        key = (
            "clean",
            plan.day,
            plan.replay,
            plan.step,
            plan.region,
            id(plan.candidates),
            plan.list_region,
            plan.list_version,
            plan.list_issued_by,
            plan.list_standing,
        )
        hit = self._decided.get(key)
        if hit is not None:
            return hit[0]  # type: ignore[no-any-return]
        fields = _decision_fields(
            plan,
            _CLEAN,
            outcome=_CLEAN.outcome,
            measures=(),
            conditions=(),
            provenance=(),
            verified=True,
            stale=False,
            stale_age_s=None,
            degraded_reason=None,
            decision_id="",
            decided_at=plan.now or self.now(),
        )
        self._remember(self._decided, key, (fields, plan.candidates))
        return fields

    # -- memoised pure part ----------------------------------------------------------
    # Warm checks see the very same cached SubjectRecords objects again and again, so
    # the pure part of a decision (records with effect, matched measures, outcome) is
    # memoised by the identity of its immutable inputs. Each entry keeps its inputs
    # alive, so an id() is never reused while it is a key.

    def _assess(self, plan: Plan, gathered: list[_Gathered]) -> _Assessment:
        if not any(g[1].records or g[1].possible_matches for g in gathered):
            # A clean subject: nothing to match, and not worth a memo slot.
            name = next((g[1].subject.name for g in gathered if g[1].subject is not None), None)
            if name is None:
                return _CLEAN
            # One object per name, so the decision memo (keyed by its identity) hits too.
            clean = self._memo.get(("clean", name))
            if clean is None:
                clean = _Assessment((), name, (), (), (), (), "allow")
                self._remember(self._memo, ("clean", name), clean)
            return clean
        key = (
            plan.day,
            plan.replay,
            plan.step,
            id(plan.candidates),
            plan.sc.code,
            *[(g[0], id(g[1])) for g in gathered],
        )
        hit = self._memo.get(key)
        if hit is not None:
            return hit[1]  # type: ignore[no-any-return]
        records, replay_current = _merge(
            gathered, plan.sc.code, plan.day, self._rank, self.platform_sources, plan.replay
        )
        name = next((g[1].subject.name for g in gathered if g[1].subject is not None), None)
        possible = tuple(pm for g in gathered for pm in g[1].possible_matches)
        found: list[AppliedMeasure] = []
        if records:
            for rm in plan.candidates:
                am = match_measure(rm.measure, records, plan.day, list_region=rm.list_region)
                if am is not None:
                    found.append(am)
        measures, conditions = combine(found, plan.step, self.commitment_steps)
        result = _Assessment(
            records,
            name,
            possible,
            tuple(found),
            measures,
            conditions,
            outcome_of(measures),
            replay_current,
        )
        self._remember(self._memo, key, ((plan.candidates, tuple(g[1] for g in gathered)), result))
        return result

    @staticmethod
    def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()  # cheap bound; a warm working set refills it at once
        memo[key] = value


def _decision_fields(
    plan: Plan,
    a: _Assessment,
    *,
    outcome: Outcome,
    measures: tuple[AppliedMeasure, ...],
    conditions: tuple[AppliedMeasure, ...],
    provenance: tuple[Provenance, ...],
    verified: bool,
    stale: bool,
    stale_age_s: float | None,
    degraded_reason: str | None,
    decision_id: str,
    decided_at: datetime,
) -> dict[str, Any]:
    """Every field of a :class:`Decision`, in the model's order (see :func:`models.adopt`)."""
    sc = plan.sc
    return {
        "decision_id": decision_id,
        "subject_code": sc.code,
        "subject_kind": sc.kind,
        "subject_name": a.name,
        "step": plan.step,
        "region": plan.region,
        "as_of": plan.day,
        "outcome": outcome,
        "records": a.records,
        "measures": measures,
        "conditions": conditions,
        "list_region": plan.list_region,
        "list_version": plan.list_version,
        "list_issued_by": plan.list_issued_by,
        "list_standing": plan.list_standing,
        "list_refused": plan.list_refused,
        "wording_version": WORDING_VERSION,
        "provenance": provenance,
        "possible_matches": a.possible,
        "verified": verified,
        "stale": stale,
        "stale_age_s": stale_age_s,
        "replay_uses_current_status": a.replay_current,
        "degraded_reason": degraded_reason,
        "decided_at": decided_at,
    }


def _failure_text(name: str, err: SourceError) -> str:
    text = str(err)
    return text if text.startswith(f"{name}: ") else f"{name}: {text}"


def _check_region(region: str) -> None:
    if not (isinstance(region, str) and len(region) == 6 and region.isascii() and region.isdigit()):
        raise InputError(f"region must be a 6-digit division code such as '320100', got {region!r}")


# -- merging listings (spec §4.0) ---------------------------------------------------------


def same_listing_key(record: CreditRecord, subject: str) -> tuple[str, str, str] | None:
    """What makes two records the same listing (spec §4.0), or None without a ``basis``.

    The subject (``subject`` for the subject's own records, ``via`` for a
    related organization's), the decision document number with spaces removed
    and full- and half-width brackets and parentheses unified, and the list kind.
    """
    if not record.basis:
        return None
    return (record.via or subject, normalise_title(record.basis), record.list_kind)


def _last_change(record: CreditRecord) -> date | None:
    return record.status_history[-1].on if record.status_history else None


def _merge(
    gathered: list[_Gathered],
    code: str,
    day: date,
    rank: Mapping[str, int],
    platform: frozenset[str],
    replay: bool,
) -> tuple[tuple[EffectiveRecord, ...], bool]:
    """Merge every source's records into listings, then keep those with effect on ``day``.

    Merging comes first (spec §4.0), so a listing repaired at the platform but
    still shown ``listed`` by an agency or a file-loaded mirror has no effect.
    Two records are one listing when they share a record id, or a
    :func:`same_listing_key`. Which copy decides the status: one from a source
    speaking for the platform; among the rest, the latest ``status_history``
    date, then the configured source order. Returns the records with effect
    and whether a replay judged a record without history by today's status.
    """
    # Listings in order of first appearance: each a list of (source, record).
    groups: list[list[tuple[str, CreditRecord]]] = []
    index: dict[tuple[str, ...], int] = {}
    for source, sr, _at, _stale, _p in gathered:
        for rec in sr.records:
            subject = rec.via or code
            id_key = ("id", subject, rec.record_id)
            basis_key = same_listing_key(rec, code)
            keys: list[tuple[str, ...]] = [id_key] if basis_key is None else [id_key, basis_key]
            at = next((index[k] for k in keys if k in index), None)
            if at is None:
                at = len(groups)
                groups.append([])
            groups[at].append((source, rec))
            for k in keys:
                index.setdefault(k, at)

    out: list[EffectiveRecord] = []
    replay_current = False
    for group in groups:
        source, rec = group[0] if len(group) == 1 else _authority(group, rank, platform)
        if replay and not rec.status_history and rec.listed_on <= day:
            replay_current = True  # spec §4: the replay must say it rests on today's status
        if not rec.has_effect(day):
            continue
        names = [source]
        for s, _r in sorted(group, key=lambda g: rank.get(g[0], len(rank))):
            if s not in names:
                names.append(s)
        out.append(
            trusted(
                EffectiveRecord,
                record=rec,
                source=source,
                subject_code=rec.via or code,
                sources=tuple(names),
            )
        )
    return tuple(out), replay_current


def _authority(
    group: list[tuple[str, CreditRecord]], rank: Mapping[str, int], platform: frozenset[str]
) -> tuple[str, CreditRecord]:
    """The copy of a listing whose status decides (spec §4.0)."""
    speaking = [g for g in group if g[0] in platform]
    pool = speaking or group
    last = len(rank)

    def order(g: tuple[str, CreditRecord]) -> tuple[bool, int, int]:
        # The latest status_history date first (a copy without history after any with
        # one), then the configured source order.
        changed = _last_change(g[1])
        latest = -changed.toordinal() if changed is not None else 0
        return (changed is None, latest, rank.get(g[0], last))

    return min(pool, key=order)
