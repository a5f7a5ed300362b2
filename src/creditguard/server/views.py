"""A decision as one unit may see it.

A unit that may not see non-public records (spec §4 ``public: false``) gets
neither those records nor the measures that rest only on them; the outcome
stays what the whole decision says (a deny resting on a non-public record is
still a deny: hiding must never turn into allowing), and ``withheld_records``
says that something was withheld. The explanation is the applicant's text,
which never discloses non-public records either.
"""

from __future__ import annotations

from creditguard.models import AppliedMeasure, Decision
from creditguard.screening import ScreenResult
from creditguard.server.schemas import (
    BasisView,
    CheckResponse,
    MeasureView,
    ProvenanceView,
    RecordView,
    ScreenRow,
    Verification,
)

__all__ = ["check_response", "screen_row", "verification", "visible_measures"]


def verification(d: Decision) -> Verification:
    """``verified``, ``stale`` or ``unverified``: never verified unless every source answered."""
    if d.verified:
        return "verified"
    return "stale" if d.stale else "unverified"


def _public_ids(d: Decision) -> set[str]:
    return {er.record.record_id for er in d.records if er.record.public}


def visible_measures(
    d: Decision, measures: tuple[AppliedMeasure, ...], see_non_public: bool
) -> list[AppliedMeasure]:
    """The measures a unit may see: all, or those resting on some public record (or on none)."""
    if see_non_public:
        return list(measures)
    public = _public_ids(d)
    return [m for m in measures if not m.record_ids or any(i in public for i in m.record_ids)]


def _measure(m: AppliedMeasure) -> MeasureView:
    return MeasureView(
        code=m.code,
        title=m.title,
        effect=m.effect,
        category=m.category,
        legal_basis=[
            BasisView(title=b.title, article=b.article, level=b.level) for b in m.legal_basis
        ],
        list_region=m.list_region,
        record_ids=list(m.record_ids),
        origin=m.origin,
    )


def check_response(d: Decision, *, unit_code: str, see_non_public: bool) -> CheckResponse:
    """The response body of ``/v1/check`` for ``d``, as the unit may see it."""
    shown = [er for er in d.records if see_non_public or er.record.public]
    return CheckResponse(
        decision_id=d.decision_id,
        unit_code=unit_code,
        subject=d.subject_display,
        subject_kind=d.subject_kind,
        step=d.step,
        region=d.region,
        as_of=d.as_of,
        outcome=d.outcome,
        verification=verification(d),
        verified=d.verified,
        stale=d.stale,
        stale_age_s=d.stale_age_s,
        degraded_reason=d.degraded_reason,
        measures=[_measure(m) for m in visible_measures(d, d.measures, see_non_public)],
        conditions=[_measure(m) for m in visible_measures(d, d.conditions, see_non_public)],
        records=[
            RecordView(
                record_id=er.record.record_id,
                list_kind=er.record.list_kind,
                domain=er.record.domain,
                list_name=er.record.list_name,
                authority=er.record.authority.name,
                basis=er.record.basis,
                listed_on=er.record.listed_on,
                expires_on=er.record.expires_on,
                status=er.record.status,
                public=er.record.public,
                region=er.record.region,
                role=er.record.role,
                sources=list(er.sources or (er.source,)),
            )
            for er in shown
        ],
        withheld_records=len(d.records) - len(shown),
        list_region=d.list_region,
        list_version=d.list_version,
        list_standing=d.list_standing,
        list_refused=list(d.list_refused),
        provenance=[
            ProvenanceView(
                source=p.source,
                fetched_at=p.fetched_at,
                data_as_of=p.data_as_of,
                stale=p.stale,
                found=p.found,
                error=p.error,
            )
            for p in d.provenance
        ],
        explanation=d.explanation,
        decided_at=d.decided_at,
    )


def screen_row(r: ScreenResult, *, see_non_public: bool) -> ScreenRow:
    """One row of ``/v1/screen``: the library's flat row, measures filtered for the unit."""
    flat = r.as_dict()
    d = r.decision
    return ScreenRow(
        row=r.row,
        input=flat["input"],
        outcome=r.outcome,
        verification=verification(d) if d is not None else None,
        verified=d.verified if d is not None else None,
        measures=[m.code for m in visible_measures(d, d.measures, see_non_public)] if d else [],
        degraded_reason=d.degraded_reason if d is not None else None,
        decision_id=d.decision_id if d is not None else None,
        error=r.error,
    )
