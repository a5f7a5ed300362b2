"""The data creditguard works with, as frozen pydantic v2 models.

Shapes follow the platform interface (spec §4 records, §5.1 measures and
measure lists). Payloads from outside are validated with ``model_validate``;
data the engine builds itself from already-validated parts uses
``model_construct`` on the hot path.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

__all__ = [
    "EFFECT_RANK",
    "KNOWN_DOMAINS",
    "AppliedMeasure",
    "AppliesTo",
    "Authority",
    "BasisLevel",
    "Category",
    "CreditRecord",
    "Decision",
    "Effect",
    "EffectiveRecord",
    "LegalBasis",
    "ListKind",
    "ListStanding",
    "Measure",
    "MeasureList",
    "Outcome",
    "PossibleMatch",
    "Provenance",
    "RecordStatus",
    "RelatedPerson",
    "StatusChange",
    "Subject",
    "SubjectKind",
    "SubjectRecords",
    "Withdrawal",
    "adopt",
    "trusted",
]

ListKind = Literal["blacklist", "focus"]
SubjectKind = Literal["organization", "person"]
RecordStatus = Literal["listed", "rectifying", "rectified", "repaired", "removed"]
Role = Literal["self", "legal_representative", "responsible_person", "related_person"]
Category = Literal["rights_limiting", "management", "market_social"]
Effect = Literal[
    "notify", "increase_inspection", "strict_review", "no_commitment", "restrict", "deny"
]
Outcome = Literal["allow", "review", "restrict", "deny"]
BasisLevel = Literal[
    "law",
    "administrative_regulation",
    "local_regulation",
    "departmental_rule",
    "local_rule",
    "normative_document",
    "policy_document",
]
#: spec §5.1: 法定代表人, 主要负责人 and 负有责任的相关人员 (notice 893 §8)
ExtendsTo = Literal["legal_representative", "responsible_person", "related_person"]
ListStanding = Literal["official", "compilation", "example"]

#: Severity order of effects; the most severe applicable effect decides the outcome.
EFFECT_RANK: dict[str, int] = {
    "notify": 0,
    "increase_inspection": 1,
    "strict_review": 2,
    "no_commitment": 3,
    "restrict": 4,
    "deny": 5,
}

#: Record domains named by spec §4; other values are kept as text, never rejected.
KNOWN_DOMAINS: frozenset[str] = frozenset(
    {
        "court_enforcement",
        "tax",
        "market_regulation",
        "procurement",
        "safety_production",
        "labor_wages",
        "environment",
        "customs",
        "finance",
        "other",
    }
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    def __repr_args__(self) -> Any:
        # Reprs end up in logs and tracebacks: a person's number (and name) never whole.
        from creditguard.masking import masked_repr_args

        return masked_repr_args(self, super().__repr_args__())


_M = TypeVar("_M", bound=BaseModel)


_ALL_FIELDS: dict[type[BaseModel], set[str]] = {}


def _all_fields(cls: type[BaseModel]) -> set[str]:
    # Shared per class: every field is always set, and pydantic copies the set before changing it.
    fields = _ALL_FIELDS[cls] = set(cls.model_fields)
    return fields


def trusted(cls: type[_M], **values: object) -> _M:
    """Build a model from complete, already-valid values without validation.

    ``model_construct`` costs microseconds per call because it resolves
    aliases and defaults field by field; the engine's hot path builds
    decisions from parts it validated earlier and passes every field, so it
    sets the instance state directly. Missing fields are a programming error.
    """
    return adopt(cls, values)


def adopt(cls: type[_M], values: dict[str, Any]) -> _M:
    """Like :func:`trusted`, taking ownership of ``values`` (a fresh dict, every field, in order).

    For the hot path that copies a memoised dict of fields and changes a few:
    no keyword arguments are packed again. The dict becomes the instance's
    ``__dict__``, so the caller must not keep or change it afterwards.
    """
    m = cls.__new__(cls)
    _set = object.__setattr__
    _set(m, "__dict__", values)
    _set(m, "__pydantic_fields_set__", _ALL_FIELDS.get(cls) or _all_fields(cls))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


# --- subjects and records (spec §4) -------------------------------------------------


class RelatedPerson(_Frozen):
    """A person linked to an organization (legal representative, responsible person)."""

    code: str | None = None
    name: str | None = None


class Subject(_Frozen):
    """A credit subject as a source describes it."""

    code: str
    kind: SubjectKind
    name: str | None = None
    legal_representative: RelatedPerson | None = None


class Authority(_Frozen):
    """The identifying department (认定部门) of a record."""

    code: str = ""
    name: str = ""


class StatusChange(_Frozen):
    """One entry of a record's ``status_history`` (spec §4): the status and the day it began."""

    status: RecordStatus
    on: date


class CreditRecord(BaseModel):
    """One entry of a subject on a blacklist or focus list (spec §4).

    Unknown fields from a source are kept (``model_extra``), and unknown
    domains stay as text.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    def __repr_args__(self) -> Any:
        # Unknown fields may carry a person's number: masked like _Frozen's reprs.
        from creditguard.masking import masked_repr_args

        return masked_repr_args(self, super().__repr_args__())

    record_id: str = Field(min_length=1)
    list_kind: ListKind
    domain: str = "other"
    list_name: str = ""
    authority: Authority = Authority()
    basis: str = ""
    listed_on: date
    expires_on: date | None = None
    rectify_by: date | None = None
    status: RecordStatus
    public: bool = True
    region: str = ""
    role: Role = "self"
    via: str | None = None
    #: statuses over time, oldest first (spec §4); empty when the source gave none
    status_history: tuple[StatusChange, ...] = ()

    def status_on(self, on: date) -> RecordStatus | None:
        """The status in force on ``on`` (spec §4 "Status over time").

        With ``status_history``: the last entry whose day is not after ``on``,
        or None before the first entry (not yet listed). Without it: the
        current ``status`` on every day.
        """
        history = self.status_history
        if not history:
            return self.status
        current: RecordStatus | None = None
        for change in history:  # oldest first; a handful of entries at most
            if change.on > on:
                break
            current = change.status
        return current

    def has_effect(self, on: date) -> bool:
        """True when the record binds on ``on``: listed or rectifying then, inside its window."""
        if on < self.listed_on:
            return False
        if self.expires_on is not None and on > self.expires_on:
            return False
        status = self.status_on(on) if self.status_history else self.status
        return status == "listed" or status == "rectifying"

    def why_no_effect(self, on: date) -> str | None:
        """Plain reason the record has no effect on ``on``, or ``None`` when it has."""
        status = self.status_on(on)
        if status is None:
            return f"record {self.record_id} is not yet listed on {on}"
        if status in ("rectified", "repaired", "removed"):
            return f"record {self.record_id} is {status}"
        if on < self.listed_on:
            return f"record {self.record_id} is listed only from {self.listed_on}"
        if self.expires_on is not None and on > self.expires_on:
            return f"record {self.record_id} expired on {self.expires_on}"
        return None


class SubjectRecords(_Frozen):
    """What one source knows of one subject: the subject (if known) and its records."""

    code: str
    subject: Subject | None = None
    records: tuple[CreditRecord, ...] = ()
    found: bool = True
    possible_matches: tuple[PossibleMatch, ...] = ()
    #: when the source's data was last loaded (a mirror's last import or sync); None = live
    data_as_of: datetime | None = None


class PossibleMatch(_Frozen):
    """A name-only hit from a keyword search: for human review, never an effect by itself."""

    source: str
    name: str
    identifier: str | None = None
    detail: str = ""


# --- measures and measure lists (spec §5.1) ------------------------------------------


class LegalBasis(_Frozen):
    """The instrument and article a measure rests on.

    Accepts the string form of spec §5.1 (kept whole in ``title``) and the
    object form with ``title``, ``article`` and ``level``.
    """

    title: str = Field(min_length=1)
    article: str = ""
    level: BasisLevel | None = None

    def __str__(self) -> str:
        return f"{self.title}{self.article}"


class AppliesTo(_Frozen):
    """Which records and steps a measure applies to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    list_kinds: tuple[ListKind, ...] = Field(min_length=1)
    domains: tuple[str, ...] = ("*",)
    steps: tuple[str, ...] = ("*",)


class Measure(_Frozen):
    """One joint-punishment measure of a measure list."""

    code: str = Field(min_length=1)
    title: str = Field(min_length=1)
    category: Category
    legal_basis: tuple[LegalBasis, ...] = Field(min_length=1)
    source: str = "statute"
    applies_to: AppliesTo
    effect: Effect
    extends_to: tuple[ExtendsTo, ...] = ()
    effective_from: date | None = None
    effective_to: date | None = None
    published_on: date | None = None

    @field_validator("legal_basis", mode="before")
    @classmethod
    def _basis_forms(cls, value: Any) -> Any:
        if isinstance(value, (str, dict)):
            value = [value]
        if isinstance(value, (list, tuple)):
            return [{"title": item} if isinstance(item, str) else item for item in value]
        return value

    def in_force(self, on: date) -> bool:
        """True when ``on`` lies in the measure's own effective window (and it is published)."""
        if self.published_on is not None and on < self.published_on:
            return False
        if self.effective_from is not None and on < self.effective_from:
            return False
        return self.effective_to is None or on <= self.effective_to


class Withdrawal(_Frozen):
    """A child list withdrawing an inherited measure for its region, with a reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class MeasureList(_Frozen):
    """A region's measure list (区域性失信联合惩戒措施清单), one version."""

    region: str = Field(pattern=r"^\d{6}$")
    version: str = Field(min_length=1)
    issued_by: str = ""
    #: what kind of list this is: ``official`` (issued by the body named in
    #: ``issued_by``), ``compilation`` (compiled from statutes by someone else:
    #: not an official list, and decisions say so) or ``example`` (fictional:
    #: never in force unless the configuration enables its pack by name)
    standing: ListStanding = "official"
    published_on: date | None = None
    effective_from: date | None = None
    extends: str | None = Field(default=None, pattern=r"^\d{6}$")
    withdraws: tuple[Withdrawal, ...] = ()
    measures: tuple[Measure, ...] = ()


# --- decisions ------------------------------------------------------------------------


class Provenance(_Frozen):
    """Where and when records came from for one decision."""

    source: str
    fetched_at: datetime
    stale: bool = False
    found: bool = True
    error: str | None = None
    #: when the source's data was last loaded ("数据截至"); None for a live source (see fetched_at)
    data_as_of: datetime | None = None


class EffectiveRecord(_Frozen):
    """A record that has effect on the decision's date, with the source that gave it."""

    record: CreditRecord
    source: str
    subject_code: str
    #: every source that returned this listing (spec §4.0), ``source`` first
    sources: tuple[str, ...] = ()


class AppliedMeasure(_Frozen):
    """A measure the decision applies (or notes as a condition), and why."""

    code: str
    title: str
    effect: Effect
    category: Category
    legal_basis: tuple[LegalBasis, ...]
    list_region: str = ""
    record_ids: tuple[str, ...] = ()
    via: str | None = None
    origin: str = "list"


class Decision(_Frozen):
    """The answer to "may this subject pass this step?", and everything needed to explain it.

    ``measures`` are the measures that bite at this step; ``conditions`` are
    measures that apply to the subject but only bite elsewhere (for example
    ``no_commitment`` outside approval-by-commitment steps). ``verified`` is
    False when records could not be obtained; ``degraded_reason`` then says why
    and the step's failure policy chose the outcome.
    """

    decision_id: str
    subject_code: str
    subject_kind: SubjectKind
    subject_name: str | None = None
    step: str
    region: str
    as_of: date
    outcome: Outcome
    records: tuple[EffectiveRecord, ...] = ()
    measures: tuple[AppliedMeasure, ...] = ()
    conditions: tuple[AppliedMeasure, ...] = ()
    list_region: str | None = None
    list_version: str | None = None
    #: issuing body of the list in force (``issued_by``), for the applicant's text
    list_issued_by: str = ""
    #: ``official``, ``compilation`` or ``example``: the weakest standing in the list's chain
    list_standing: ListStanding = "official"
    #: measures of the platform lists in force that failed validation and were not
    #: applied (spec §5.1): the decision was judged without them (officer's text, JSON)
    list_refused: tuple[str, ...] = ()
    #: version of the wording data the explanation is written with, so a journal row
    #: shows the text exactly as it was shown (see :mod:`creditguard.explain`)
    wording_version: str = "2026.1"
    provenance: tuple[Provenance, ...] = ()
    possible_matches: tuple[PossibleMatch, ...] = ()
    verified: bool = True
    stale: bool = False
    #: age in seconds of the stale records used (``stale=True``), else None
    stale_age_s: float | None = None
    #: True when a replay (``as_of`` in the past) rests on today's status of a record
    #: that carries no ``status_history``
    replay_uses_current_status: bool = False
    degraded_reason: str | None = None
    decided_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def explanation(self) -> str:
        """Plain Chinese text an officer can show the applicant."""
        from creditguard.explain import explain

        return explain(self)

    @property
    def subject_display(self) -> str:
        """The subject code as it may be shown to operators (ID numbers masked)."""
        from creditguard.masking import mask_code

        return mask_code(self.subject_code, self.subject_kind)

    @property
    def fetched_at(self) -> datetime | None:
        """When the oldest record set used was fetched."""
        return min((p.fetched_at for p in self.provenance), default=None)


SubjectRecords.model_rebuild()
