"""A broken commitment bars approval by commitment after the listing itself has ended.

Notice 893 §9 makes the commitment a condition of repair ("违背承诺自愿接受联合惩戒"), so a
breach usually comes after the listing stopped having effect; the measure plugin is asked
for every check, with or without records (hookspecs: ``creditguard_extra_measures``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from test_check_integration import ORG, RECORD, TODAY, _breach, _check, _config, _lifecycle, _list

from creditguard.guard import AsyncGuard, Guard
from creditguard.models import SubjectRecords
from creditguard.supervision.measures import BREACH_MEASURE_CODE
from creditguard.supervision.source import SupervisionSource

REPAIRED = RECORD.model_copy(update={"status": "repaired"})


class RepairedPlatform:
    """The platform after repair: the listing is known, but has no effect any more."""

    name = "platform"
    speaks_for_platform = True

    def lookup(
        self, codes: Sequence[str], *, include_related: bool = False
    ) -> Mapping[str, SubjectRecords]:
        return {
            c: SubjectRecords(code=c, records=(REPAIRED,) if c == ORG else (), found=c == ORG)
            for c in codes
        }


class NothingKnown:
    """A source that has never heard of the subject (e.g. the listing was deleted upstream)."""

    name = "platform"
    speaks_for_platform = True

    def lookup(
        self, codes: Sequence[str], *, include_related: bool = False
    ) -> Mapping[str, SubjectRecords]:
        return {c: SubjectRecords(code=c, found=False) for c in codes}


@pytest.mark.parametrize("cls", [Guard, AsyncGuard])
@pytest.mark.parametrize("platform", [RepairedPlatform, NothingKnown])
def test_a_breach_bars_commitment_approval_after_the_listing_ended(
    tmp_path: Path, cls: type[Any], platform: type[Any]
) -> None:
    lc = _lifecycle(tmp_path)
    lc_done = False
    try:
        before = _check_with(cls, tmp_path, platform, "licensing.commitment")
        assert before.outcome == "allow" and not before.records and not before.measures
        _breach(lc)
        lc.close()
        lc_done = True
        after = _check_with(cls, tmp_path, platform, "licensing.commitment")
        assert after.outcome == "review", after.explanation
        (m,) = after.measures
        assert m.code == BREACH_MEASURE_CODE and m.effect == "no_commitment"
        assert not after.records  # it rests on the breach, not on a listing in effect
        # Elsewhere it is a visible condition, not a restriction.
        bid = _check_with(cls, tmp_path, platform, "procurement.bid")
        assert bid.outcome == "allow" and [c.code for c in bid.conditions] == [BREACH_MEASURE_CODE]
    finally:
        if not lc_done:
            lc.close()


def _check_with(cls: type[Any], tmp_path: Path, platform: type[Any], step: str) -> Any:
    guard = cls(
        _config(tmp_path),
        sources=[platform(), SupervisionSource(tmp_path / "sv.db")],
        measure_lists=[_list(())],
        load_entrypoints=False,
        journal=False,
    )
    guard.engine.now = lambda: TODAY
    try:
        return _check(guard, ORG, step)
    finally:
        if isinstance(guard, AsyncGuard):
            asyncio.run(guard.aclose())
        else:
            guard.close()
