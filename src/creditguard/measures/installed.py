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
  show`` prints.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from creditguard.errors import ConfigError, MeasureListError
from creditguard.measures._common import did_you_mean
from creditguard.measures.basis import DEFAULT_RIGHTS_LIMITING_LEVELS, BasisPolicy
from creditguard.measures.catalog import ListOrigin, MeasureCatalog
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
    return BasisPolicy(regions=regions)


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
    catalog = MeasureCatalog(aliases=config.measures.aliases, policy=policy)
    catalog.notes.extend(notes)
    for lst, origin in entries:
        catalog.add(lst, origin)
    for lst in extra:
        catalog.add(lst, ListOrigin("given", "Python API"))
    # Lists are checked together (parents, cycles, widening) before any check may use them.
    errors = [p for p in catalog.problems() if p.severity == "error"]
    if errors:
        raise MeasureListError(errors)
    return catalog
