"""The endpoints of platform API v1 (spec §§4–7, 10, 11), free of any transport.

:func:`handle_call` takes a :class:`Call` whose signature was already checked
and returns an :class:`Answer`. Errors are :class:`ApiError`, turned into the
spec §3 body by the caller.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from creditguard.testing.state import PlatformState, check_code

__all__ = [
    "MAX_BATCH",
    "MAX_REQUEST_BYTES",
    "Answer",
    "ApiError",
    "Call",
    "error_answer",
    "handle_call",
    "json_answer",
]

MAX_BATCH = 500
MAX_REQUEST_BYTES = 1024 * 1024

ERROR_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "IDEMPOTENCY_CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "UNAVAILABLE",
}

_FEEDBACK_ACTIONS = frozenset(
    {
        "denied",
        "restricted",
        "reviewed",
        "commitment_refused",
        "inspected",
        "notified",
        "not_applied",
    }
)
_DISCLOSURE_KINDS = frozenset(
    {"administrative_penalty", "blacklist", "focus_list", "inspection", "judgment"}
)
_INTERVIEW_KINDS = frozenset({"prompt", "warning"})
# type -> {field: checker} for spec §10's `data`
_Checker = Callable[[Any], bool]


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v)


def _is_date(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        date.fromisoformat(v)
    except ValueError:
        return False
    return len(v) == 10


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v >= 0


_REPAIR: dict[str, _Checker] = {"rules": _is_str, "detail": _is_str}
_SUPERVISION_DATA: dict[str, dict[str, _Checker]] = {
    "rectification.ordered": {
        "requirements": _is_str,
        "deadline": _is_date,
        "public": lambda v: isinstance(v, bool),
    },
    "rectification.confirmed": {"confirmed_on": _is_date},
    "interview.held": {
        "interview_kind": lambda v: v in _INTERVIEW_KINDS,
        "attendee": lambda v: isinstance(v, dict),
    },
    "interview.refused": {"interview_kind": lambda v: v in _INTERVIEW_KINDS, "detail": _is_str},
    "commitment.made": {
        "text_sha256": lambda v: (
            isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None
        ),
        "published_url": _is_str,
    },
    "commitment.breached": {"commitment_event_id": _is_str, "detail": _is_str},
    "training.completed": {"hours": _is_number, "organizer": _is_str},
    "report.submitted": {"agency_code": _is_str, "report_no": _is_str},
    "repair.applied": _REPAIR,
    "repair.granted": _REPAIR,
    "repair.refused": _REPAIR,
    "rectification.overdue": {"deadline": _is_date},
    "consulting.given": {"topic": _is_str, "organizer": _is_str, "hours": _is_number},
    "responsible_person.named": {
        "person": lambda v: (
            isinstance(v, dict)
            and _is_str(v.get("code"))
            and _is_str(v.get("name"))
            and v.get("role") in ("legal_representative", "responsible_person", "related_person")
        )
    },
}
_WITHDRAWAL_REASONS = frozenset(
    {"penalty_revoked", "penalty_changed", "repaired", "expired", "other"}
)


@dataclass(frozen=True)
class Call:
    """One request as the platform sees it: ``path`` is the raw path as sent, without the query."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    """One response: status, headers and the full body."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


class ApiError(Exception):
    """An error answer in the spec §3 shape; ``code`` defaults from the status."""

    def __init__(
        self, status: int, message: str, code: str = "", headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.status = status
        self.message = message
        self.code = code or ERROR_CODES.get(status, "INTERNAL")
        self.headers = headers
        super().__init__(message)


def json_answer(status: int, data: Any, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    """A JSON answer (UTF-8, Chinese kept readable)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Answer(status, body, (("Content-Type", "application/json"), *headers))


def error_answer(err: ApiError, request_id: str) -> Answer:
    """The spec §3 error body for ``err``."""
    return json_answer(
        err.status,
        {"error": {"code": err.code, "message": err.message, "request_id": request_id}},
        err.headers,
    )


@dataclass(frozen=True)
class _Ctx:
    call: Call
    api_path: str
    app_key: str
    params: tuple[str, ...]

    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.call.query, keep_blank_values=True))

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.call.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"request body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "request body must be a JSON object")
        return data


_Handler = Callable[[PlatformState, _Ctx], Answer]


def handle_call(state: PlatformState, call: Call, api_path: str, app_key: str) -> Answer:
    """Route ``call`` (``api_path`` is its path under the base) and run the endpoint."""
    if len(call.body) > MAX_REQUEST_BYTES:
        raise ApiError(
            413, f"request body is {len(call.body)} bytes; the limit is {MAX_REQUEST_BYTES}"
        )
    route = unquote(api_path)
    for method, pattern, handler, idempotent in _ROUTES:
        m = pattern.fullmatch(route)
        if m is None:
            continue
        if method != call.method:
            continue
        ctx = _Ctx(call, route, app_key, tuple(m.groups()))
        if idempotent:
            return _idempotent(state, ctx, handler)
        return handler(state, ctx)
    raise ApiError(404, f"no such endpoint: {call.method} {route}")


# --- idempotency (spec §6) -----------------------------------------------------------


def _fingerprint(ctx: _Ctx) -> str:
    try:
        canon = json.dumps(
            json.loads(ctx.call.body), sort_keys=True, separators=(",", ":")
        ).encode()
    except (UnicodeDecodeError, json.JSONDecodeError):
        canon = ctx.call.body
    return hashlib.sha256(
        ctx.call.method.encode() + b" " + ctx.api_path.encode() + b"\n" + canon
    ).hexdigest()


def _idempotent(state: PlatformState, ctx: _Ctx, handler: _Handler) -> Answer:
    key = ctx.call.headers.get("idempotency-key", "")
    if not 1 <= len(key) <= 128:
        raise ApiError(400, "Idempotency-Key header is required (1 to 128 characters)")
    fp = _fingerprint(ctx)
    with state.lock:
        prior = state.store.idempotency.get((ctx.app_key, key))
        if prior is not None:
            if prior[0] != fp:
                raise ApiError(
                    409, f"Idempotency-Key {key!r} was already used with a different request body"
                )
            return Answer(200, prior[1], (("Content-Type", "application/json"),))
        answer = handler(state, ctx)
        # Only successes are remembered: a 404 CASE_NOT_FOUND must be retryable under the same key.
        if 200 <= answer.status < 300:
            state.store.idempotency[(ctx.app_key, key)] = (fp, answer.body)
        return answer


# --- helpers -------------------------------------------------------------------------


def _require(body: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if not _is_str(body.get(name)):
            raise ApiError(400, f"{name} is missing or not a non-empty string")


def _require_time(body: Mapping[str, Any], name: str) -> None:
    _require(body, name)
    try:
        parsed = datetime.fromisoformat(str(body[name]))
    except ValueError:
        raise ApiError(400, f"{name} is not an RFC 3339 time: {body[name]!r}") from None
    if parsed.tzinfo is None:
        raise ApiError(400, f"{name} must carry a UTC offset (RFC 3339): {body[name]!r}")


def _valid_code(text: Any, where: str) -> str:
    if not isinstance(text, str):
        raise ApiError(400, f"{where} must be a string")
    try:
        return check_code(text)[0]
    except ValueError as exc:
        raise ApiError(400, f"{where} is not a valid subject code: {exc}") from None


def _bool_param(ctx: _Ctx, name: str) -> bool:
    value = ctx.query().get(name, "false")
    if value not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false, got {value!r}")
    return value == "true"


def _etag(data: Any) -> str:
    digest = hashlib.sha256(
        json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    return f'W/"{digest[:16]}"'


def _not_modified(ctx: _Ctx, etag: str) -> bool:
    sent = ctx.call.headers.get("if-none-match")
    if not sent:
        return False
    tags = [t.strip() for t in sent.split(",")]
    return "*" in tags or etag in tags


def _receipt(state: PlatformState) -> dict[str, str]:
    return {"receipt_id": state.next_id("RC"), "received_at": state.now_text()}


def _subject_view(subject: Mapping[str, Any]) -> dict[str, Any]:
    view = {"code": subject["code"], "kind": subject["kind"]}
    view.update({k: v for k, v in subject.items() if k not in view})
    return view


# --- §4 subjects and records -----------------------------------------------------------


def _records(state: PlatformState, ctx: _Ctx) -> Answer:
    code = _valid_code(ctx.params[0], "subject code")
    include_related = _bool_param(ctx, "include_related")
    subject = state.subject(code)
    if subject is None:
        raise ApiError(404, "the platform has no subject with this code", "SUBJECT_NOT_FOUND")
    see = ctx.app_key in state.private_readers
    records = state.records_of(code, include_related=include_related, see_non_public=see)
    view = _subject_view(subject)
    etag = _etag({"subject": view, "records": records})
    if _not_modified(ctx, etag):
        return Answer(304, b"", (("ETag", etag),))
    return json_answer(
        200,
        {"subject": view, "records": records, "as_of": state.now_text(), "etag": etag},
        (("ETag", etag),),
    )


def _batch_records(state: PlatformState, ctx: _Ctx) -> Answer:
    body = ctx.json()
    codes = body.get("codes")
    include_related = body.get("include_related", False)
    if not isinstance(codes, list) or not codes:
        raise ApiError(400, "codes must be a list of 1 to 500 subject codes")
    if len(codes) > MAX_BATCH:
        raise ApiError(413, f"{len(codes)} codes sent; at most {MAX_BATCH} per call")
    if not isinstance(include_related, bool):
        raise ApiError(400, "include_related must be true or false")
    see = ctx.app_key in state.private_readers
    results: list[dict[str, Any]] = []
    not_found: list[str] = []
    seen: set[str] = set()
    normalised = [(sent, _valid_code(sent, f"codes[{i}]")) for i, sent in enumerate(codes)]
    with state.lock:
        for sent, code in normalised:
            if sent in seen:
                continue
            seen.add(sent)
            subject = state.subject(code)
            if subject is None:
                not_found.append(sent)
                continue
            records = state.records_of(code, include_related=include_related, see_non_public=see)
            results.append({"code": sent, "subject": _subject_view(subject), "records": records})
    return json_answer(200, {"results": results, "not_found": not_found, "as_of": state.now_text()})


# --- §5 measure lists ------------------------------------------------------------------


def _measure_list(state: PlatformState, ctx: _Ctx) -> Answer:
    region = ctx.params[0]
    if re.fullmatch(r"\d{6}", region) is None:
        raise ApiError(400, f"region must be a 6-digit division code, got {region!r}")
    data = state.measure_list_for(region)
    if data is None:
        raise ApiError(404, f"no measure list for region {region}")
    etag = _etag(data)
    if _not_modified(ctx, etag):
        return Answer(304, b"", (("ETag", etag),))
    return json_answer(200, data, (("ETag", etag),))


# --- §6 cases --------------------------------------------------------------------------


def _initiate_case(state: PlatformState, ctx: _Ctx) -> Answer:
    body = ctx.json()
    _require(body, "case_id", "step", "region", "unit_code")
    _require_time(body, "initiated_at")
    code = _valid_code(body.get("subject_code"), "subject_code")
    record_ids = body.get("record_ids")
    if not isinstance(record_ids, list) or not all(_is_str(r) for r in record_ids):
        raise ApiError(400, "record_ids must be a list of record ids")
    if re.fullmatch(r"\d{6}", str(body["region"])) is None:
        raise ApiError(400, f"region must be a 6-digit division code, got {body['region']!r}")
    case_id = str(body["case_id"])
    if not case_id.startswith(f"{body['unit_code']}-"):
        raise ApiError(
            400, f"a unit-initiated case_id must start with the unit code and '-': {case_id!r}"
        )
    receipt = _receipt(state)
    with state.lock:
        known = state.store.cases.get(case_id)
        if known is None:
            state.store.cases[case_id] = {**body, "subject_code": code, "origin": "unit", **receipt}
    return json_answer(201, {"case_id": case_id, **receipt})


def _case(state: PlatformState, case_id: str) -> dict[str, Any]:
    case = state.store.cases.get(case_id)
    if case is None:
        raise ApiError(404, f"no case {case_id} has been initiated", "CASE_NOT_FOUND")
    return case


def _respond(state: PlatformState, ctx: _Ctx) -> Answer:
    body = ctx.json()
    _require(body, "unit_code")
    _require_time(body, "responded_at")
    accepted = body.get("accepted_measures", [])
    declined = body.get("declined_measures", [])
    if not isinstance(accepted, list) or not all(_is_str(c) for c in accepted):
        raise ApiError(400, "accepted_measures must be a list of measure codes")
    if not isinstance(declined, list) or not all(
        isinstance(d, dict) and _is_str(d.get("code")) and _is_str(d.get("reason"))
        for d in declined
    ):
        raise ApiError(400, "declined_measures must be a list of {code, reason}")
    with state.lock:
        case = _case(state, ctx.params[0])
        receipt = _receipt(state)
        state.store.responses.append({**body, "case_id": case["case_id"], **receipt})
    return json_answer(201, receipt)


def _feedback(state: PlatformState, ctx: _Ctx) -> Answer:
    body = ctx.json()
    _require(body, "unit_code", "measure_code", "step", "action")
    _require_time(body, "decided_at")
    if body["action"] not in _FEEDBACK_ACTIONS:
        raise ApiError(400, f"action {body['action']!r} is not one of {sorted(_FEEDBACK_ACTIONS)}")
    if body["action"] == "not_applied" and not _is_str(body.get("detail")):
        raise ApiError(400, "action not_applied needs a detail saying why")
    with state.lock:
        case = _case(state, ctx.params[0])
        receipt = _receipt(state)
        state.store.feedback.append(
            {
                **body,
                "case_id": case["case_id"],
                "subject_code": case.get("subject_code"),
                **receipt,
            }
        )
    return json_answer(201, receipt)


# --- §7 push feed ----------------------------------------------------------------------


def _pushes(state: PlatformState, ctx: _Ctx) -> Answer:
    q = ctx.query()
    raw_limit = q.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise ApiError(400, f"limit must be 1 to 1000, got {raw_limit!r}")
    cursor = q.get("cursor")
    position = 0
    if cursor:
        m = re.fullmatch(r"c-(\d+)", cursor)
        if m is None:
            raise ApiError(400, f"unknown cursor {cursor!r}")
        position = int(m.group(1))
    events = state.events_after(position, int(raw_limit))
    return json_answer(200, {"events": events, "next_cursor": f"c-{position + len(events):06d}"})


# --- §10 supervision events, §11 disclosures -----------------------------------------


def _supervision_event(state: PlatformState, ctx: _Ctx) -> Answer:
    body = ctx.json()
    _require(body, "event_id", "type", "unit_code")
    _require_time(body, "at")
    code = _valid_code(body.get("subject_code"), "subject_code")
    checks = _SUPERVISION_DATA.get(str(body["type"]))
    if checks is None:
        raise ApiError(400, f"unknown supervision event type {body['type']!r}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise ApiError(400, "data must be an object")
    for name, ok in checks.items():
        if not ok(data.get(name)):
            raise ApiError(400, f"data.{name} is missing or malformed for type {body['type']}")
    with state.lock:
        receipt = _receipt(state)
        state.store.supervision_events.append({**body, "subject_code": code, **receipt})
    return json_answer(201, receipt)


def _disclosure(state: PlatformState, ctx: _Ctx) -> Answer:
    body = ctx.json()
    if not _is_date(body.get("publish_until")):
        raise ApiError(400, "publish_until is missing or not a YYYY-MM-DD date")
    _require(body, "disclosure_id", "kind", "decision_no", "content")
    if body["kind"] not in _DISCLOSURE_KINDS:
        raise ApiError(400, f"kind {body['kind']!r} is not one of {sorted(_DISCLOSURE_KINDS)}")
    if not _is_date(body.get("decided_on")):
        raise ApiError(400, "decided_on is missing or not a YYYY-MM-DD date")
    subject = body.get("subject")
    if not isinstance(subject, dict):
        raise ApiError(400, "subject must be an object with a code")
    code = _valid_code(subject.get("code"), "subject.code")
    authority = body.get("authority")
    if not isinstance(authority, dict) or not _is_str(authority.get("code")):
        raise ApiError(400, "authority must be an object with a code")
    with state.lock:
        _refuse_non_public(state, body, code)
        receipt = _receipt(state)
        state.store.disclosures.append({**body, **receipt})
    return json_answer(201, receipt)


def _withdrawal(state: PlatformState, ctx: _Ctx) -> Answer:
    body = ctx.json()
    if body.get("reason") not in _WITHDRAWAL_REASONS:
        raise ApiError(400, f"reason must be one of {sorted(_WITHDRAWAL_REASONS)}")
    if not _is_date(body.get("decided_on")):
        raise ApiError(400, "decided_on is missing or not a YYYY-MM-DD date")
    disclosure_id = ctx.params[0]
    with state.lock:
        found = [d for d in state.store.disclosures if d.get("disclosure_id") == disclosure_id]
        if not found:
            raise ApiError(404, f"no disclosure {disclosure_id}", code="DISCLOSURE_NOT_FOUND")
        receipt = _receipt(state)
        found[-1]["withdrawal"] = {**body, **receipt}
    return json_answer(201, receipt)


def _refuse_non_public(state: PlatformState, body: Mapping[str, Any], code: str) -> None:
    record_id = body.get("record_id")
    if isinstance(record_id, str):
        record = state.find_record(record_id)
        if record is not None and not record.get("public", True):
            raise ApiError(403, f"record {record_id} is not public and may not be disclosed")
        return
    list_kind = {"blacklist": "blacklist", "focus_list": "focus"}.get(str(body.get("kind")))
    if list_kind is None:
        return
    listed = [r for r in state.records_of(code) if r.get("list_kind") == list_kind]
    if listed and not any(r.get("public", True) for r in listed):
        raise ApiError(
            403, f"the subject's {list_kind} records are not public and may not be disclosed"
        )


_ROUTES: tuple[tuple[str, re.Pattern[str], _Handler, bool], ...] = (
    ("GET", re.compile(r"/v1/subjects/([^/]+)/records"), _records, False),
    ("POST", re.compile(r"/v1/subjects:batch-records"), _batch_records, False),
    ("GET", re.compile(r"/v1/measure-lists/([^/]+)"), _measure_list, False),
    ("POST", re.compile(r"/v1/cases"), _initiate_case, True),
    ("POST", re.compile(r"/v1/cases/([^/]+)/responses"), _respond, True),
    ("POST", re.compile(r"/v1/cases/([^/]+)/feedback"), _feedback, True),
    ("GET", re.compile(r"/v1/pushes"), _pushes, False),
    ("POST", re.compile(r"/v1/supervision-events"), _supervision_event, True),
    ("POST", re.compile(r"/v1/disclosures"), _disclosure, True),
    ("POST", re.compile(r"/v1/disclosures/([^/]+)/withdrawal"), _withdrawal, True),
)
