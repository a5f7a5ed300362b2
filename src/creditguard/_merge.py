"""Merging listings (spec §4.0): every source's records become one set of listings.

Merging comes before judging a record's effect, so a listing repaired at the
platform but still shown ``listed`` elsewhere has no effect. Pure functions,
called once per assessment that is not memoised (see :mod:`creditguard._memo`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

from creditguard.measures.instruments import normalise_title
from creditguard.models import CreditRecord, EffectiveRecord, trusted

if TYPE_CHECKING:
    from creditguard.engine import _Gathered

__all__ = ["merge", "same_listing_key"]


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


def merge(
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
