"""The level of a measure's legal basis (法律位阶) and which levels may carry which measure.

Levels come from the file (spec §5.1 object form) or from the shipped table
of known instruments (:mod:`creditguard.measures.instruments`), never from a
word in the title. Which levels may carry a rights-limiting measure follows
国办发〔2020〕49号 by default — laws, administrative and local regulations, and
policy documents of the Party Central Committee and the State Council — and a
region may be stricter (浙江省公共信用信息管理条例 Art 26 requires a law or an
administrative regulation for its measures (1)–(5)): see :class:`BasisPolicy`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from creditguard.measures.instruments import (
    JUDICIAL_INTERPRETATION,
    Instrument,
    InstrumentTable,
    instrument_name,
    instruments,
)
from creditguard.models import LegalBasis

__all__ = [
    "DEFAULT_RIGHTS_LIMITING_LEVELS",
    "JUDICIAL_INTERPRETATION",
    "BasisPolicy",
    "Judged",
    "basis_kind",
    "instrument_name",
    "judge_basis",
]

#: Levels that may carry a rights-limiting measure by default (国办发〔2020〕49号).
DEFAULT_RIGHTS_LIMITING_LEVELS: Final[frozenset[str]] = frozenset(
    {"law", "administrative_regulation", "local_regulation", "policy_document"}
)


@dataclass(frozen=True, slots=True)
class BasisPolicy:
    """Which basis levels may carry a rights-limiting measure, per region.

    ``regions`` maps a region code to its own levels; a city without an entry
    follows its province's, then the default. A region may only be stricter
    than 49号: levels outside the default are refused when the policy is built
    from configuration (see :func:`creditguard.measures.installed.basis_policy`).
    """

    default: frozenset[str] = DEFAULT_RIGHTS_LIMITING_LEVELS
    regions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: The instruments table bases are judged against: the shipped one unless
    #: ``[measures] instruments`` adds an agency's own files (see
    #: :func:`creditguard.measures.instruments.load_files`).
    table: InstrumentTable | None = None

    def instruments(self) -> InstrumentTable:
        """The table this policy judges bases against."""
        return self.table if self.table is not None else instruments()

    def allowed(self, region: str) -> frozenset[str]:
        """The levels that may carry a rights-limiting measure in ``region``'s list."""
        from creditguard.measures.catalog import parent_regions

        for code in (region, *parent_regions(region)):
            if code in self.regions:
                return self.regions[code]
        return self.default


@dataclass(frozen=True, slots=True)
class Judged:
    """A basis as validation sees it: its level (None: unknown) and the edition it cites."""

    level: str | None
    instrument: Instrument | None
    declared: bool  # the level was written in the file, the table does not know the title


def judge_basis(
    basis: LegalBasis, on: date | None = None, table: InstrumentTable | None = None
) -> Judged:
    """The basis's level and edition: the table's when it knows the title, else the file's."""
    found = (table or instruments()).lookup(basis.title, on)
    if found is not None:
        return Judged(found.level, found, False)
    return Judged(basis.level, None, basis.level is not None)


def basis_kind(basis: LegalBasis, on: date | None = None) -> str | None:
    """The basis's level (table first, then the file's ``level``), else ``None`` (unknown)."""
    return judge_basis(basis, on).level
