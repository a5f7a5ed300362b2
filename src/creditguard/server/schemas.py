"""Request and response bodies of the decision service; the OpenAPI document derives from them.

Responses never carry a resident ID number whole (subjects are shown as
:attr:`Decision.subject_display`), and a unit not allowed to see non-public
records gets neither those records nor the measures resting only on them
(:mod:`creditguard.server.views`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ERROR_RESPONSES",
    "Action",
    "BasisView",
    "CheckRequest",
    "CheckResponse",
    "ErrorBody",
    "ErrorDetail",
    "FeedbackItemView",
    "FeedbackRequest",
    "FeedbackResponse",
    "HealthResponse",
    "MeasureView",
    "OutboxResponse",
    "ProvenanceView",
    "ReadyResponse",
    "RecordView",
    "ScreenRequest",
    "ScreenResponse",
    "ScreenRow",
    "ScreenSummary",
    "UnitReadiness",
]

#: Spec §6.3's feedback actions.
Action = Literal[
    "denied",
    "restricted",
    "reviewed",
    "commitment_refused",
    "inspected",
    "notified",
    "not_applied",
]
#: ``verified``: every source answered; ``stale``: cached records stood in for a failed
#: source; ``unverified``: records could not be obtained and the step's policy decided.
Verification = Literal["verified", "stale", "unverified"]

_CODE = Field(
    min_length=1, max_length=64, description="unified social credit code or resident ID number"
)
_STEP = Field(
    min_length=1, max_length=64, description="workflow step, e.g. procurement.bid (spec §8)"
)
_REGION = Field(min_length=1, max_length=16, description="6-digit division code, e.g. 320100")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorDetail(_Out):
    """What went wrong: a stable code, a message, the request's id."""

    code: str = Field(description="INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, ...")
    message: str
    request_id: str
    rule: str | None = Field(
        default=None, description="RULE_BROKEN only: the lifecycle rule that refused the request"
    )


class ErrorBody(_Out):
    """Every non-2xx answer has this body (the shape of spec §3)."""

    error: ErrorDetail


#: The error answers of the decision routes, for their OpenAPI ``responses``.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "bad input (named in the message)"},
    401: {"model": ErrorBody, "description": "no, or wrong, credentials"},
    403: {"model": ErrorBody, "description": "this credential's unit may not do this"},
    413: {"model": ErrorBody, "description": "body or batch too large"},
    503: {"model": ErrorBody, "description": "records unavailable (policy raise), timeout"},
    "default": {"model": ErrorBody, "description": "any other error, same shape"},
}


# -- check ----------------------------------------------------------------------------


class CheckRequest(_In):
    """Check one subject before one step."""

    subject_code: str = _CODE
    step: str = _STEP
    region: str = _REGION
    as_of: date | None = Field(default=None, description="replay the check as of this day")
    open_case: bool = Field(
        default=True, description="initiate the case when measures apply (false: a preview)"
    )
    workflow_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="the application's reference in your system: checking the same application "
        "and step again (a retry, through any worker) reuses its case instead of opening another",
    )


class BasisView(_Out):
    """One legal basis of a measure."""

    title: str
    article: str = ""
    level: str | None = None


class MeasureView(_Out):
    """A measure the decision applies, or notes as a condition."""

    code: str
    title: str
    effect: str
    category: str
    legal_basis: list[BasisView]
    list_region: str
    record_ids: list[str]
    origin: str


class RecordView(_Out):
    """A record with effect on the decision's day."""

    record_id: str
    list_kind: str
    domain: str
    list_name: str
    authority: str
    basis: str
    listed_on: date
    expires_on: date | None
    status: str
    public: bool
    region: str
    role: str
    sources: list[str]


class ProvenanceView(_Out):
    """Where records came from: one entry per source asked."""

    source: str
    fetched_at: datetime
    data_as_of: datetime | None
    stale: bool
    found: bool
    error: str | None


class CheckResponse(_Out):
    """A decision. Act on ``outcome`` only together with ``verification``."""

    decision_id: str
    unit_code: str
    subject: str = Field(description="the subject code, a resident ID number masked")
    subject_kind: str
    step: str
    region: str
    as_of: date
    outcome: Literal["allow", "review", "restrict", "deny"]
    verification: Verification
    verified: bool
    stale: bool
    stale_age_s: float | None
    degraded_reason: str | None
    measures: list[MeasureView]
    conditions: list[MeasureView]
    records: list[RecordView]
    withheld_records: int = Field(
        description="records with effect not shown because this unit may not see non-public records"
    )
    list_region: str | None
    list_version: str | None
    list_standing: str
    list_refused: list[str] = Field(
        default_factory=list,
        description="measures of the platform list in force refused by validation and not "
        "applied (spec §5.1): the decision was judged without them",
    )
    provenance: list[ProvenanceView]
    explanation: str = Field(description="Chinese text for the applicant")
    decided_at: datetime
    feedback_token: str | None = Field(
        default=None,
        description="opaque; send it to /v1/feedback after the step (any worker, after restarts). "
        "Set when measures apply and the unit has an outbox",
    )


# -- screen ---------------------------------------------------------------------------


class ScreenRequest(_In):
    """Check many subjects for one step (no case is opened: a screening is a preview)."""

    step: str = _STEP
    region: str = _REGION
    codes: list[str] = Field(min_length=1, description="subject codes, one decision each")
    as_of: date | None = None


class ScreenRow(_Out):
    """One input code: its decision in short, or why there is none."""

    row: int
    input: str = Field(description="the code as given, a resident ID number masked")
    outcome: Literal["allow", "review", "restrict", "deny", "error"]
    verification: Verification | None
    verified: bool | None
    measures: list[str]
    degraded_reason: str | None
    decision_id: str | None
    error: str | None


class ScreenSummary(_Out):
    """Counts by outcome, and how many rows are not verified."""

    rows: int
    by_outcome: dict[str, int]
    unverified: int


class ScreenResponse(_Out):
    """Every row in input order (``Accept: application/x-ndjson`` streams them instead)."""

    rows: list[ScreenRow]
    summary: ScreenSummary


# -- feedback -------------------------------------------------------------------------


class FeedbackRequest(_In):
    """What the workflow did after a checked step (spec §6.3), for a decision of ``/v1/check``."""

    decision_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="a decision this process made recently (kept in memory); prefer feedback_token",
    )
    feedback_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=262144,
        description="the check's feedback_token: works in any worker and after restarts",
    )
    actions: dict[str, Action] = Field(
        default_factory=dict,
        description="measure code → action; measures not named get their effect's action",
    )
    detail: str = Field(default="", max_length=2000)
    workflow_ref: str | None = Field(
        default=None,
        max_length=128,
        description="the application's reference; when the check had one, it must be the same "
        "(else 409 WORKFLOW_REF_CONFLICT). Feedback always goes to the case the check opened",
    )

    @model_validator(mode="after")
    def _names_a_decision(self) -> FeedbackRequest:
        if self.decision_id is None and self.feedback_token is None:
            raise ValueError("give feedback_token (or decision_id)")
        return self


class FeedbackItemView(_Out):
    """One fact written to the outbox."""

    key: str
    kind: str
    topic: str


class FeedbackResponse(_Out):
    """The facts written durably; the outbox delivers them at least once."""

    decision_id: str
    items: list[FeedbackItemView]


# -- outbox and health ----------------------------------------------------------------


class OutboxResponse(_Out):
    """The calling unit's outbox backlog and awaited feedback (``creditguard outbox status``)."""

    unit_code: str
    enabled: bool
    pending: int
    due: int
    in_flight: int
    delivered: int
    dead: int
    oldest_pending_age_s: float | None
    pending_by_kind: dict[str, int]
    awaiting_feedback: int = Field(
        description="cases opened (measures applied) that have no feedback yet"
    )
    feedback_overdue: int = Field(
        description="of those, cases with no feedback after feedback_due_s: the step failed, "
        "or the workflow never reported it; feed them back"
    )
    feedback_due_s: float | None = Field(
        description="the unit's [outbox] feedback_due_s (null without an outbox)"
    )


class HealthResponse(_Out):
    """Liveness: the process answers."""

    status: Literal["ok"]


class UnitReadiness(_Out):
    """One unit's sources, outbox and measure lists."""

    unit_code: str
    status: Literal["healthy", "degraded", "unavailable"]
    problems: list[str]
    sources: dict[str, str]
    breakers: dict[str, str]
    outbox_pending: int | None
    outbox_dead: int | None
    list_versions: dict[str, str | None]


class ReadyResponse(_Out):
    """Readiness: ``healthy``, ``degraded`` (decisions may be unverified) or ``unavailable``."""

    status: Literal["healthy", "degraded", "unavailable"]
    units: list[UnitReadiness] = Field(
        default_factory=list, description="details, for monitor credentials only"
    )
