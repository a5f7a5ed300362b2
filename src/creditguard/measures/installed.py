"""Which measure lists are in force for a configuration, and where each came from.

The one place that turns ``[measures]`` into a :class:`MeasureCatalog` (the
guard and ``creditguard measures show/explain`` both use it):

- ``files``: the agency's own lists, validated strictly (any error blocks);
- ``packs``: ``true`` installs every pack except example packs (lists of
  ``standing = "example"``), which are never in force unless named; a list of
  names installs exactly those packs; ``false`` none;
- a list file and a pack (or two packs) giving a list for the same region are
  a conflict, reported as a :class:`~creditguard.errors.ConfigError` naming
  both, never a silent override;
- every list remembers its origin (:class:`ListOrigin`), which ``measures
  show`` prints;
- ``platform_regions``: the last good list ``creditguard sync`` kept for each
  (origin ``platform``); a file or pack for such a region is a conflict too.
  A measure of a platform list that fails validation together with the other
  lists (parents, widening) is left out and reported (``catalog.refused``),
  as spec §5.1 wants; a region with no list kept yet is *awaited*: checks
  there raise :class:`~creditguard.errors.ConfigError` instead of falling
  back to the list above it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from creditguard.errors import ConfigError, MeasureListError, Problem
from creditguard.measures._common import did_you_mean
from creditguard.measures.basis import DEFAULT_RIGHTS_LIMITING_LEVELS, BasisPolicy
from creditguard.measures.catalog import ListOrigin, MeasureCatalog
from creditguard.measures.instruments import load_files
from creditguard.models import MeasureList

if TYPE_CHECKING:
    from creditguard.config import Config
    from creditguard.plugins import Hooks

__all__ = ["basis_policy", "build_catalog", "enabled_pack_lists"]

log = logging.getLogger("creditguard.measures")


def basis_policy(config: Config) -> BasisPolicy:
    """``[measures] rights_limiting_levels`` as a policy; a region may only be stricter than 49号."""
    regions: dict[str, frozenset[str]] = {}
    for region, levels in config.measures.rights_limiting_levels.items():
        wider = sorted(set(levels) - DEFAULT_RIGHTS_LIMITING_LEVELS)
        if wider:
            raise ConfigError(
                f"[measures] rights_limiting_levels.{region}: {', '.join(wider)} may not carry a "
                "rights-limiting measure (国办发〔2020〕49号 allows law, administrative_regulation, "
                "local_regulation, policy_document); a region may only be stricter"
            )
        if not levels:
            raise ConfigError(
                f"[measures] rights_limiting_levels.{region}: give at least one level"
            )
        regions[region] = frozenset(levels)
    # An agency's own instruments files, relative to the configuration's folder.
    extra = [config.path(p) for p in config.measures.instruments]
    table = load_files(extra) if extra else None
    return BasisPolicy(regions=regions, table=table)


def enabled_pack_lists(
    hooks: Hooks, packs: bool | tuple[str, ...]
) -> tuple[list[tuple[MeasureList, ListOrigin]], list[str]]:
    """The lists of the packs ``packs`` enables, with their origin, and notes on packs left out."""
    if packs is False:
        return [], []
    by_pack = hooks.register_measures_by_pack()
    dists = hooks.pack_distributions()
    notes: list[str] = []
    chosen: list[str]
    if packs is True:
        chosen = []
        for name, lists in by_pack.items():
            if any(lst.standing == "example" for lst in lists):
                notes.append(
                    f"pack {name}: example lists, not in force (enable it by name in [measures] packs)"
                )
                log.info("measure pack %s holds example lists; not enabled by name, not used", name)
            else:
                chosen.append(name)
    else:
        known = {**{n: n for n in by_pack}, **{d: n for n, d in dists.items() if n in by_pack}}
        chosen = []
        for wanted in packs:
            if wanted not in known:
                raise ConfigError(
                    f"[measures] packs: no installed measure pack is named {wanted!r}"
                    + did_you_mean(wanted, known)
                    + f" (installed: {', '.join(sorted(by_pack)) or 'none'})"
                )
            chosen.append(known[wanted])
    out = [(lst, ListOrigin("pack", name)) for name in chosen for lst in by_pack[name]]
    return out, notes


def _conflicts(entries: Iterable[tuple[MeasureList, ListOrigin]]) -> None:
    """Lists for one region from two places (the files, a pack, another pack): a conflict."""
    by_region: dict[str, dict[str, list[str]]] = {}
    for lst, origin in entries:
        # Several files are one place (the agency's own versions); each pack is its own.
        place = "files" if origin.kind == "file" else str(origin)
        named = by_region.setdefault(lst.region, {}).setdefault(place, [])
        if str(origin) not in named:
            named.append(str(origin))
    problems = [
        f"region {region}: " + " and ".join(", ".join(n) for n in places.values())
        for region, places in sorted(by_region.items())
        if len(places) > 1
    ]
    if problems:
        raise ConfigError(
            "measure-list conflict, never settled by overriding one with the other: "
            + "; ".join(problems)
            + ". Keep one source per region: remove the file, or leave the pack out of "
            '[measures] packs (packs = ["…"] names the packs to use)'
        )


def _platform_conflicts(
    entries: Iterable[tuple[MeasureList, ListOrigin]], regions: Iterable[str]
) -> None:
    """A file or pack list for a region configured from the platform: a conflict, not an override."""
    wanted = set(regions)
    clash = sorted(
        {f"region {lst.region}: {origin}" for lst, origin in entries if lst.region in wanted}
    )
    if clash:
        raise ConfigError(
            "measure-list conflict, never settled by overriding one with the other: "
            + "; ".join(clash)
            + " and [measures] platform_regions. Keep one source per region: remove the file, "
            "leave the pack out of [measures] packs, or the region out of platform_regions"
        )


def _platform_lists(
    config: Config,
) -> tuple[list[tuple[MeasureList, ListOrigin, tuple[Problem, ...]]], list[str]]:
    """The kept platform lists of ``platform_regions`` and the regions with none kept yet."""
    from creditguard.measures.platform_lists import PlatformListStore
    from creditguard.measures.platform_sync import platform_list_dir

    store = PlatformListStore(platform_list_dir(config))
    kept = []
    awaited = []
    for region in config.measures.platform_regions:
        accepted = store.load(region)  # an unreadable kept list stops the guard: never guessed
        if accepted is None:
            awaited.append(region)
            continue
        origin = ListOrigin("platform", f"fetched {accepted.fetched_at or '?'}")
        kept.append((accepted.measure_list, origin, accepted.rejected))
    return kept, awaited


def _drop_refused(
    lst: MeasureList, errors: list[Problem]
) -> tuple[MeasureList, tuple[Problem, ...]]:
    # The measures these errors name leave the list; the list's own errors are not droppable.
    codes = {p.measure for p in errors if p.measure}
    kept = tuple(m for m in lst.measures if m.code not in codes)
    return lst.model_copy(update={"measures": kept}), tuple(p for p in errors if p.measure)


def build_catalog(
    config: Config, hooks: Hooks | None, extra: Iterable[MeasureList] = ()
) -> MeasureCatalog:
    """The catalog ``config`` describes (plus ``extra`` lists given in code), validated.

    Raises :class:`ConfigError` on conflicts and unknown packs and
    :class:`MeasureListError` when any list has a validation error.
    """
    from creditguard.measures.loader import load_measure_list

    policy = basis_policy(config)
    entries: list[tuple[MeasureList, ListOrigin]] = []
    notes: list[str] = []
    if hooks is not None:
        entries, notes = enabled_pack_lists(hooks, config.measures.packs)
    for path in config.measure_files():
        entries.append((load_measure_list(path), ListOrigin("file", str(path))))
    _conflicts(entries)
    _platform_conflicts(entries, config.measures.platform_regions)
    platform, awaited = _platform_lists(config)
    extra = list(extra)
    # A platform list's measure that fails together with the others is dropped and named
    # (spec §5.1), then the lists are checked again; anything else blocks the guard.
    for _ in range(len(platform) + 1):
        catalog = MeasureCatalog(aliases=config.measures.aliases, policy=policy)
        catalog.notes.extend(notes)
        for lst, origin in entries:
            catalog.add(lst, origin)
        for lst, origin, refused in platform:
            catalog.add(lst, origin)
            catalog.refused[(lst.region, lst.version)] = refused
        for lst in extra:
            catalog.add(lst, ListOrigin("given", "Python API"))
        # Lists are checked together (parents, cycles, widening) before any check may use them.
        errors = [p for p in catalog.problems() if p.severity == "error"]
        names = {f"{o} ({lst.region} {lst.version})": i for i, (lst, o, _) in enumerate(platform)}
        droppable = [p for p in errors if p.file in names and p.measure]
        if not droppable or len(droppable) < len(errors):
            break
        for p in droppable:
            log.warning("platform measure list: measure not applied: %s", p)
        for name, i in names.items():
            lst, origin, refused = platform[i]
            mine = [p for p in droppable if p.file == name]
            if mine:
                smaller, more = _drop_refused(lst, mine)
                platform[i] = (smaller, origin, refused + more)
    if errors:
        raise MeasureListError(errors)
    for region in awaited:
        why = (
            f"region {region}'s measure list comes from the platform ([measures] "
            "platform_regions) and none has been fetched yet: run 'creditguard sync'; "
            "checks there are not judged on the list above it"
        )
        catalog.await_list(region, why)
        catalog.notes.append(f"region {region}: awaited from the platform (no list fetched yet)")
    return catalog
