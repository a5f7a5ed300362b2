"""Installed measure lists and the list in force for a region on a date.

A region's list in force is its own measures plus those of its ancestors
(``extends``: national ``000000`` → province → city). A region with no list
of its own falls back up the division hierarchy (``320102`` → ``320100`` →
``320000`` → ``000000``) unless the configuration maps it explicitly, and so
does a region on a date before its first list version took effect. Several
versions of a list may be installed: the one published and effective on the
check's date is used, so a check can be replayed as of a past date.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from creditguard.errors import ConfigError, MeasureListError, Problem
from creditguard.models import Measure, MeasureList

if TYPE_CHECKING:
    from creditguard.measures.basis import BasisPolicy

__all__ = ["ListOrigin", "MeasureCatalog", "ResolvedList", "ResolvedMeasure", "parent_regions"]


@dataclass(frozen=True, slots=True)
class ListOrigin:
    """Where an installed list came from: ``kind`` is file, pack, platform or given."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class ResolvedMeasure:
    """A measure in force for a region, with the list it came from."""

    measure: Measure
    list_region: str
    list_version: str


@dataclass(slots=True)
class ResolvedList:
    """The measures in force for one region on one date, indexed by step."""

    region: str
    version: str
    on: date
    measures: tuple[ResolvedMeasure, ...]
    withdrawn: Mapping[str, str] = field(default_factory=dict)
    #: The lists layered, nearest first, as ``(region, version)``.
    chain: tuple[tuple[str, str], ...] = ()
    #: Who withdrew each withdrawn code: ``code -> region``.
    withdrawn_by: Mapping[str, str] = field(default_factory=dict)
    #: The issuing body of the region's own list in force.
    issued_by: str = ""
    #: The weakest standing in the chain: example < compilation < official.
    standing: str = "official"
    #: Measures of the chain's platform lists refused by validation and not applied
    #: (spec §5.1), as ``code`` (or ``region version field`` when no code), for provenance.
    refused: tuple[str, ...] = ()
    _by_step: dict[str, tuple[ResolvedMeasure, ...]] = field(default_factory=dict, repr=False)

    def candidates(self, step: str) -> tuple[ResolvedMeasure, ...]:
        """Measures whose step patterns match ``step`` (memoised per step name)."""
        found = self._by_step.get(step)
        if found is None:
            found = tuple(
                rm
                for rm in self.measures
                if any(
                    fnmatch.fnmatchcase(step, pattern) for pattern in rm.measure.applies_to.steps
                )
            )
            if len(self._by_step) < 4096:
                self._by_step[step] = found
        return found

    @property
    def extends_anywhere(self) -> bool:
        """True when some measure extends to related persons."""
        return any(rm.measure.extends_to for rm in self.measures)


def parent_regions(region: str) -> list[str]:
    """The division hierarchy above ``region``: city, province, national."""
    chain: list[str] = []
    if region[4:] != "00":
        chain.append(region[:4] + "00")
    if region[2:] != "0000":
        chain.append(region[:2] + "0000")
    if region != "000000":
        chain.append("000000")
    return chain


class MeasureCatalog:
    """Every installed measure list, by region and version."""

    def __init__(
        self,
        lists: Iterable[MeasureList] = (),
        *,
        aliases: Mapping[str, str] | None = None,
        policy: BasisPolicy | None = None,
    ) -> None:
        self._lists: dict[str, list[MeasureList]] = {}
        self._origins: dict[tuple[str, str], ListOrigin] = {}
        #: Lines for ``creditguard measures show``: packs left out and why, conflicts settled.
        self.notes: list[str] = []
        self._aliases = dict(aliases or {})
        #: Which basis levels may carry a rights-limiting measure, per region.
        self.policy = policy
        self._resolved: dict[tuple[str, date], ResolvedList] = {}
        #: region -> why its list is awaited (configured from the platform, none kept yet):
        #: checks there and below it fail instead of falling back to a list above
        self.awaited: dict[str, str] = {}
        #: (region, version) -> measures of that list not applied, each with why
        self.refused: dict[tuple[str, str], tuple[Problem, ...]] = {}
        for lst in lists:
            self.add(lst)

    def add(self, lst: MeasureList, origin: ListOrigin | None = None) -> None:
        """Install one list version; a second copy of the same region and version is refused."""
        versions = self._lists.setdefault(lst.region, [])
        for existing in versions:
            if existing.version == lst.version:
                if existing == lst:
                    return
                first = self._origins.get((lst.region, lst.version))
                raise MeasureListError(
                    f"region {lst.region} version {lst.version} is installed twice with different content"
                    + (f" ({first} and {origin})" if first and origin else "")
                )
        versions.append(lst)
        self._origins[(lst.region, lst.version)] = origin or ListOrigin("given", "Python API")
        versions.sort(key=lambda item: (item.effective_from or date.min, item.version))
        self._resolved.clear()

    def origin(self, region: str, version: str) -> ListOrigin | None:
        """Where the installed list ``region`` ``version`` came from."""
        return self._origins.get((region, version))

    def lists(self) -> list[MeasureList]:
        """Every installed list version, by region then date."""
        return [lst for region in sorted(self._lists) for lst in self._lists[region]]

    def problems(self) -> list[Problem]:
        """Every validation problem of the installed lists, alone and together.

        Call it before putting a catalog to use and refuse to start on errors
        (``[p for p in problems if p.severity == "error"]``).
        """
        from creditguard.measures.validate import validate_lists

        lists = self.lists()
        names = {}
        for lst in lists:
            origin = self._origins.get((lst.region, lst.version))
            if origin is not None and origin.kind != "given":
                names[id(lst)] = f"{origin} ({lst.region} {lst.version})"
        return validate_lists(lists, names=names, policy=self.policy)

    @property
    def regions(self) -> list[str]:
        """Regions that have a list of their own."""
        return sorted(self._lists)

    def versions(self, region: str) -> list[MeasureList]:
        """Installed versions of ``region``'s own list, oldest first."""
        return list(self._lists.get(region, ()))

    def list_in_force(self, region: str, on: date) -> MeasureList | None:
        """The version of ``region``'s own list in force on ``on`` (published and effective)."""
        chosen = None
        for lst in self._lists.get(region, ()):
            if lst.effective_from is not None and lst.effective_from > on:
                continue
            if lst.published_on is not None and lst.published_on > on:
                continue
            chosen = lst
        return chosen

    def await_list(self, region: str, why: str) -> None:
        """Mark ``region``'s list as awaited: resolving it (or a region it governs) raises ``why``."""
        self.awaited[region] = why
        self._resolved.clear()

    def _awaited_home(self, region: str) -> str | None:
        # The region that would govern ``region`` if it had a list, when that list is awaited.
        if region in self._aliases:
            home = self._aliases[region]
            return home if home in self.awaited and home not in self._lists else None
        for candidate in (region, *parent_regions(region)):
            if candidate in self._lists:
                return None
            if candidate in self.awaited:
                return candidate
        return None

    def home_region(self, region: str) -> str | None:
        """The region whose list governs ``region``: itself, an alias, or the nearest ancestor."""
        if region in self._aliases:
            return self._aliases[region]
        if region in self._lists:
            return region
        for parent in parent_regions(region):
            if parent in self._lists:
                return parent
        return None

    def resolve(self, region: str, on: date) -> ResolvedList:
        """The list in force for ``region`` on ``on``, layered over its ancestors."""
        key = (region, on)
        cached = self._resolved.get(key)
        if cached is not None:
            return cached
        waiting = self._awaited_home(region)
        if waiting is not None:
            # Never judge on the list above: the configured one is simply not there yet.
            raise ConfigError(self.awaited[waiting])
        home = self.home_region(region)
        if home is None:
            raise ConfigError(
                f"no measure list is installed for region {region} or any region above it"
            )
        own = self.list_in_force(home, on)
        if own is None:
            # Before a region's first list took effect, the level above governs it.
            for above in parent_regions(home):
                own = self.list_in_force(above, on)
                if own is not None:
                    break
        if own is None:
            raise ConfigError(
                f"no version of region {home}'s measure list (or any above it) is in force on {on}"
            )
        chain: list[MeasureList] = [own]
        seen = {own.region}
        current = own
        while current.extends:
            parent = self.list_in_force(current.extends, on)
            if parent is None:
                raise ConfigError(
                    f"measure list {current.region} extends {current.extends}, which has no version in force on {on}"
                )
            if parent.region in seen:
                raise ConfigError(
                    f"measure lists extend each other in a cycle through {parent.region}"
                )
            seen.add(parent.region)
            chain.append(parent)
            current = parent
        # A list's withdrawals remove its ancestors' measures, never its own:
        # walk nearest first and withdraw only what lists nearer than the
        # measure's own list withdrew.
        withdrawn: dict[str, str] = {}
        withdrawn_by: dict[str, str] = {}
        measures: list[ResolvedMeasure] = []
        taken: set[str] = set()
        for lst in chain:  # nearest list first: a child's code shadows its parents'
            for m in lst.measures:
                if m.code in taken or m.code in withdrawn:
                    continue
                if not _published(lst, m, on):
                    continue
                taken.add(m.code)
                measures.append(ResolvedMeasure(m, lst.region, lst.version))
            for w in lst.withdraws:
                if w.code not in taken:
                    withdrawn.setdefault(w.code, w.reason)
                    withdrawn_by.setdefault(w.code, lst.region)
        resolved = ResolvedList(
            own.region,
            own.version,
            on,
            tuple(measures),
            withdrawn,
            tuple((x.region, x.version) for x in chain),
            withdrawn_by,
            own.issued_by,
            _weakest(x.standing for x in chain),
            self._refused_in(chain),
        )
        if len(self._resolved) > 1024:
            self._resolved.clear()
        self._resolved[key] = resolved
        return resolved

    def _refused_in(self, chain: Iterable[MeasureList]) -> tuple[str, ...]:
        """The measures refused from the chain's lists, each named once, nearest list first."""
        names = [
            _refused_name(lst, p)
            for lst in chain
            for p in self.refused.get((lst.region, lst.version), ())
        ]
        return tuple(dict.fromkeys(names))


def _refused_name(lst: MeasureList, p: Problem) -> str:
    return p.measure or f"{lst.region} {lst.version} {p.field or '?'}"


def _published(lst: MeasureList, measure: Measure, on: date) -> bool:
    # A measure that was not yet published may not be applied (浙江省公共信用信息管理条例 Art 28).
    published = measure.published_on or lst.published_on
    return published is None or published <= on


def _weakest(standings: Iterable[str]) -> str:
    # A decision resting on any example or compiled list must not read as an official one.
    order = {"example": 0, "compilation": 1, "official": 2}
    return min(standings, key=lambda s: order.get(s, 0), default="official")
