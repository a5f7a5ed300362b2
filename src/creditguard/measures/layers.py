"""Rules between lists: parents, cycles, versions, withdrawals and widening."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from datetime import date

from creditguard.errors import ConfigError, Problem
from creditguard.measures._common import Checked, did_you_mean
from creditguard.measures.carry import steps_beyond
from creditguard.measures.catalog import ResolvedMeasure, parent_regions
from creditguard.measures.instruments import instrument_name, instruments, normalise_title
from creditguard.models import EFFECT_RANK, Measure, MeasureList
from creditguard.steps import KNOWN_STEPS

__all__ = ["check_layers"]


def _widening(child: Measure, parent: Measure) -> list[tuple[str, str]]:
    """``(field, message)`` for each way ``child`` reaches further than ``parent``."""
    out: list[tuple[str, str]] = []
    c, p = child.applies_to, parent.applies_to
    extra_kinds = sorted(set(c.list_kinds) - set(p.list_kinds))
    if extra_kinds:
        out.append(("applies_to.list_kinds", f"adds list kinds {', '.join(extra_kinds)}"))
    if "*" not in p.domains:
        extra = sorted(set(c.domains) - set(p.domains))
        if extra:
            out.append(("applies_to.domains", f"adds domains {', '.join(extra)}"))
    wider = steps_beyond(c.steps, p.steps)
    if wider:
        out.append(
            ("applies_to.steps", f"adds steps {', '.join(wider)} beyond {', '.join(p.steps)}")
        )
    extra_persons = sorted(set(child.extends_to) - set(parent.extends_to))
    if extra_persons:
        out.append(("extends_to", f"extends to {', '.join(extra_persons)} as well"))
    if EFFECT_RANK[child.effect] > EFFECT_RANK[parent.effect]:
        out.append(("effect", f"raises the effect from {parent.effect} to {child.effect}"))
    if child.category != parent.category:
        out.append(("category", f"changes the category from {parent.category} to {child.category}"))
    return out


def check_layers(
    entries: Sequence[Checked], *, context: Iterable[MeasureList] = ()
) -> list[Problem]:
    """Problems between lists: parents, cycles, versions, withdrawals and widening.

    Problems are reported only for ``entries`` (the lists being validated);
    ``context`` lists (installed packs) serve as parents and are not judged.
    """
    from creditguard.measures.catalog import MeasureCatalog

    ctx = list(context)
    loaded = [e for e in entries if e.usable is not None]
    every: list[MeasureList] = [lst for e in loaded if (lst := e.usable) is not None]
    ids = {id(x) for x in every}
    every += [x for x in ctx if id(x) not in ids]
    regions: dict[str, list[MeasureList]] = {}
    for x in every:
        regions.setdefault(x.region, []).append(x)
    out: list[Problem] = []

    # Versions: the same version twice with other content; two versions starting the same day.
    for e in loaded:
        lst = e.usable
        assert lst is not None
        for other in regions[lst.region]:
            if other is lst:
                continue
            if other.version == lst.version and other != lst:
                out.append(
                    Problem(
                        f"region {lst.region} version {lst.version} exists twice with different content; give the new one a new version",
                        file=e.name,
                        line=e.locator.top("version"),
                        field="version",
                    )
                )
            elif other.version != lst.version and other.effective_from == lst.effective_from:
                out.append(
                    Problem(
                        f"versions {lst.version} and {other.version} of region {lst.region} both take effect on "
                        f"{lst.effective_from or 'every date'}; which one is in force is ambiguous",
                        file=e.name,
                        line=e.locator.top("effective_from"),
                        field="effective_from",
                    )
                )

    catalog = MeasureCatalog()
    for x in every:
        try:
            catalog.add(x)
        except Exception:  # duplicate version, reported above
            continue

    for e in loaded:
        lst = e.usable
        assert lst is not None
        if lst.extends is None or lst.extends == lst.region:
            continue
        line = e.locator.top("extends")
        # Parent present and no cycle, following every version's extends.
        chain = [lst.region]
        parent: str | None = lst.extends
        broken = False
        while parent is not None:
            if parent not in regions:
                out.append(
                    Problem(
                        f"parent list {parent} is not installed or given"
                        + (f" (needed by {chain[-1]})" if len(chain) > 1 else ""),
                        file=e.name,
                        line=line,
                        field="extends",
                    )
                )
                broken = True
                break
            if parent in chain:
                out.append(
                    Problem(
                        f"lists extend each other in a cycle: {' → '.join([*chain, parent])}",
                        file=e.name,
                        line=line,
                        field="extends",
                    )
                )
                broken = True
                break
            chain.append(parent)
            nxt = sorted(x.extends for x in regions[parent] if x.extends)
            parent = nxt[0] if nxt else None
        if broken:
            continue
        if lst.extends not in parent_regions(lst.region):
            out.append(
                Problem(
                    f"extends {lst.extends}, which is not above {lst.region} in the division hierarchy",
                    file=e.name,
                    line=line,
                    field="extends",
                    severity="warning",
                )
            )
        on = lst.effective_from or date.max
        try:
            inherited = catalog.resolve(lst.extends, on)
        except ConfigError as exc:
            out.append(Problem(f"on {on}: {exc}", file=e.name, line=line, field="extends"))
            continue
        by_code = {rm.measure.code: rm for rm in inherited.measures}
        for k, w in enumerate(lst.withdraws):
            if w.code not in by_code:
                out.append(
                    Problem(
                        f"withdraws {w.code}, which no parent list in force on {on} has"
                        + did_you_mean(w.code, by_code),
                        file=e.name,
                        line=e.locator.item("withdraws", k, w.code),
                        measure=w.code,
                        field=f"withdraws.{k}.code",
                    )
                )
        for i, m in enumerate(lst.measures):
            if e.skip.get(i):
                continue  # a placeholder for a broken measure
            out.extend(_widening_across_codes(e, i, m, inherited.measures))
            rm = by_code.get(m.code)
            if rm is None or rm.measure.category != "rights_limiting":
                continue
            for path, what in _widening(m, rm.measure):
                out.append(
                    Problem(
                        f"widens rights_limiting measure {m.code} of list {rm.list_region} {rm.list_version}: {what}; "
                        "a region may narrow an inherited rights-limiting measure, never widen it",
                        file=e.name,
                        line=e.locator.measure(i, m.code, path),
                        measure=m.code,
                        field=path,
                    )
                )
    return out


def _basis_keys(m: Measure) -> set[tuple[str, str]]:
    """``(instrument, article)`` pairs a measure cites, the instrument as the table knows it."""
    keys = set()
    for b in m.legal_basis:
        found = instruments().lookup(b.title)
        name = found.name if found is not None else normalise_title(instrument_name(b.title))
        keys.add((name, normalise_title(b.article)))
    return keys


def _patterns_meet(a: Sequence[str], b: Sequence[str]) -> bool:
    """True when some step matches a pattern of ``a`` and one of ``b``."""
    for x in a:
        for y in b:
            if fnmatch.fnmatchcase(x, y) or fnmatch.fnmatchcase(y, x):
                return True
            if any(fnmatch.fnmatchcase(s, x) and fnmatch.fnmatchcase(s, y) for s in KNOWN_STEPS):
                return True
    return False


def _targets_meet(a: Measure, b: Measure) -> bool:
    """True when the two measures can bite on the same record at the same step."""
    x, y = a.applies_to, b.applies_to
    if not set(x.list_kinds) & set(y.list_kinds):
        return False
    if "*" not in x.domains and "*" not in y.domains and not set(x.domains) & set(y.domains):
        return False
    return _patterns_meet(x.steps, y.steps)


def _widening_across_codes(
    e: Checked, i: int, m: Measure, inherited: Sequence[ResolvedMeasure]
) -> list[Problem]:
    """A child's measure under a new code that is an inherited rights-limiting measure widened.

    It is the same measure when it cites the same instrument and article and
    bites on the same records at the same steps; then the narrowing rule
    applies to it as to a measure reusing the parent's code (a region may not
    widen targets or effects by renaming a measure).
    """
    if m.category != "rights_limiting":
        return []
    out: list[Problem] = []
    mine = _basis_keys(m)
    for rm in inherited:
        p = rm.measure
        if p.code == m.code or p.category != "rights_limiting":
            continue
        if not mine & _basis_keys(p) or not _targets_meet(m, p):
            continue
        for path, what in _widening(m, p):
            out.append(
                Problem(
                    f"widens rights_limiting measure {p.code} of list {rm.list_region} "
                    f"{rm.list_version} under another code (same basis, same records and steps): "
                    f"{what}; a region may narrow an inherited rights-limiting measure, never "
                    "widen it (rule: widening by target and effect across codes)",
                    file=e.name,
                    line=e.locator.measure(i, m.code, path),
                    measure=m.code,
                    field=path,
                )
            )
    return out
