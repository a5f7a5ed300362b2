"""Dated rule packs: the lifecycle rules of notice 893 and the repair rules over time.

Rules that change over time are data with effective dates (FACTS §§4.1, 5):

- :data:`LIFECYCLE_PACKS`: notice 893's lifecycle rules (§§2, 3, 10), in force
  2018-07-24 … 2020-12-31. For later dates a region adopts a pack in
  ``[supervision] rules``; with none, :class:`NoRuleSetConfigured`.
- :data:`REPAIR_PACKS`: what repair needs — notice 893 (2018), NDRC Order 58
  (2023-05-01 … 2026-03-31), NDRC Order 36 (from 2026-04-01). The 2021-01-01 …
  2023-04-30 gap is never claimed: a region names a pack for it in
  ``[supervision] repair_rules`` or gets :class:`NoRuleSetConfigured`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from creditguard.config import RulePackAdoption, SupervisionConfig
from creditguard.errors import ConfigError
from creditguard.supervision.errors import NoRuleSetConfigured

__all__ = [
    "LIFECYCLE_PACKS",
    "NOTICE_893",
    "REPAIR_PACKS",
    "LifecyclePack",
    "RepairPack",
    "lifecycle_pack_for",
    "repair_pack_for",
]

NOTICE_893 = "notice-893-2018"
"""Name of notice 893's packs (发改办财金〔2018〕893号), lifecycle and repair."""


@dataclass(frozen=True, slots=True)
class LifecyclePack:
    """Rules for rectification, interviews and training (notice 893 §§2, 3, 10)."""

    name: str
    title: str
    valid_from: date
    valid_to: date | None
    #: list kind -> the one interview kind allowed for it
    interview_kind: Mapping[str, str]
    interviews_per_listing: int = 1
    #: roles that may attend an interview or training for the subject (主要负责人)
    principal_roles: frozenset[str] = frozenset({"responsible_person", "legal_representative"})
    #: a breached commitment bars approval by commitment (告知承诺) at the next check:
    #: notice 893 §9 has the subject promise "违背承诺自愿接受联合惩戒", and §17 is what
    #: lets a commitment speed up an approval in the first place
    breach_bars_commitment_approval: bool = True

    def in_force(self, day: date) -> bool:
        """True when the pack's own text is in force on ``day``."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class RepairPack:
    """What credit repair needs under one set of rules (FACTS §5)."""

    name: str
    title: str
    valid_from: date | None
    valid_to: date | None
    needs_commitment: bool
    needs_correction: bool  # the conduct corrected (rectification confirmed)
    min_training_hours: float | None = None
    report_is_reference: bool = False  # a credit report counts as an important reference only
    #: tier -> (minimum, maximum) publication months before/after which repair applies; {} unknown
    periods_months: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    periods_open: bool = False  # periods exist but were not confirmed (FACTS §5 [open])

    def in_force(self, day: date) -> bool:
        """True when the pack is the national rule on ``day``."""
        after = self.valid_from is None or self.valid_from <= day
        return after and (self.valid_to is None or day <= self.valid_to)


_893 = LifecyclePack(
    name=NOTICE_893,
    title="国家发展改革委办公厅关于对失信主体加强信用监管的通知（发改办财金〔2018〕893号）",
    valid_from=date(2018, 7, 24),
    valid_to=date(2020, 12, 31),
    interview_kind=MappingProxyType({"blacklist": "warning", "focus": "prompt"}),
)

#: Shipped lifecycle packs by name.
LIFECYCLE_PACKS: Mapping[str, LifecyclePack] = MappingProxyType({_893.name: _893})

#: Shipped repair packs by name (FACTS §5).
REPAIR_PACKS: Mapping[str, RepairPack] = MappingProxyType(
    {
        NOTICE_893: RepairPack(
            name=NOTICE_893,
            title="发改办财金〔2018〕893号 §§9–13",
            valid_from=date(2018, 7, 24),
            valid_to=date(2020, 12, 31),
            needs_commitment=True,
            needs_correction=False,
            min_training_hours=3.0,
            report_is_reference=True,
        ),
        "ndrc-order-58-2023": RepairPack(
            name="ndrc-order-58-2023",
            title="失信行为纠正后的信用信息修复管理办法（试行）（国家发展改革委令第58号）",
            valid_from=date(2023, 5, 1),
            valid_to=date(2026, 3, 31),
            needs_commitment=True,
            needs_correction=True,
            periods_open=True,
        ),
        "ndrc-order-36-2026": RepairPack(
            name="ndrc-order-36-2026",
            title="信用修复管理办法（国家发展改革委令第36号）",
            valid_from=date(2026, 4, 1),
            valid_to=None,
            needs_commitment=True,
            needs_correction=True,
            periods_months=MappingProxyType(
                {"minor": (0, 3), "general": (3, 12), "serious": (12, 36)}
            ),
        ),
    }
)


def _adopted(
    adoptions: Mapping[str, Sequence[RulePackAdoption]], region: str, day: date
) -> RulePackAdoption | None:
    # The region's own entry, else its province's (320100 -> 320000), else the national one.
    for key in dict.fromkeys(
        (region, region[:2] + "0000" if len(region) == 6 else region, "000000")
    ):
        for a in adoptions.get(key, ()):
            if a.from_ <= day and (a.to is None or day <= a.to):
                return a
    return None


def lifecycle_pack_for(config: SupervisionConfig, region: str, day: date) -> LifecyclePack:
    """The lifecycle pack for ``region`` on ``day``: notice 893 while in force, else the region's adoption.

    :class:`NoRuleSetConfigured` when neither applies; :class:`ConfigError`
    when an adoption names a pack that does not exist.
    """
    if _893.in_force(day):
        return _893
    adoption = _adopted(config.rules, region, day)
    if adoption is None:
        raise NoRuleSetConfigured(region, day)
    pack = LIFECYCLE_PACKS.get(adoption.pack)
    if pack is None:
        raise ConfigError(
            f"[supervision] rules: unknown lifecycle pack {adoption.pack!r} "
            f"(known: {', '.join(sorted(LIFECYCLE_PACKS))})"
        )
    return pack


def repair_pack_for(config: SupervisionConfig, region: str, day: date) -> RepairPack:
    """The repair pack for an application on ``day``: the region's adoption, else the national rule.

    A region's ``[supervision] repair_rules`` entry wins where it covers the
    day (the 2021–2023 gap has no national pack and needs one).
    """
    adoption = _adopted(config.repair_rules, region, day)
    if adoption is not None:
        pack = REPAIR_PACKS.get(adoption.pack)
        if pack is None:
            raise ConfigError(
                f"[supervision] repair_rules: unknown repair pack {adoption.pack!r} "
                f"(known: {', '.join(sorted(REPAIR_PACKS))})"
            )
        return pack
    for pack in REPAIR_PACKS.values():
        if pack.in_force(day):
            return pack
    raise NoRuleSetConfigured(region, day, what="credit repair")
