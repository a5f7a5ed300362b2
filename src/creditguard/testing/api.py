"""The endpoints of platform API v1 (spec §§4–7, 10, 11), free of any transport.

:func:`handle_call` takes a :class:`Call` whose signature was already checked
and returns an :class:`Answer`. Errors are :class:`ApiError`, turned into the
spec §3 body by the caller. Here: routing, idempotency (§6) and the records,
measure list, case and push endpoints (§§4–7); the supervision endpoints
(§§10–11) are :mod:`creditguard.testing.supervision_api`, the call and answer
shapes :mod:`creditguard.testing.calls` (re-exported here).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from creditguard.testing.calls import (
    Answer,
    ApiError,
    Call,
    Ctx,
    bool_param,
    error_answer,
    etag_of,
    is_str,
    json_answer,
    new_receipt,
    not_modified,
    require,
    require_time,
    subject_view,
    valid_code,
)
from creditguard.testing.state import PlatformState
from creditguard.testing.supervision_api import disclosure, supervision_event, withdrawal

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


_Handler = Callable[[PlatformState, Ctx], Answer]


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
        ctx = Ctx(call, route, app_key, tuple(m.groups()))
        if idempotent:
            return _idempotent(state, ctx, handler)
        return handler(state, ctx)
    raise ApiError(404, f"no such endpoint: {call.method} {route}")


# --- idempotency (spec §6) -----------------------------------------------------------


def _fingerprint(ctx: Ctx) -> str:
    try:
        canon = json.dumps(
            json.loads(ctx.call.body), sort_keys=True, separators=(",", ":")
        ).encode()
    except (UnicodeDecodeError, json.JSONDecodeError):
        canon = ctx.call.body
    return hashlib.sha256(
        ctx.call.method.encode() + b" " + ctx.api_path.encode() + b"\n" + canon
    ).hexdigest()


def _idempotent(state: PlatformState, ctx: Ctx, handler: _Handler) -> Answer:
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


# --- §4 subjects and records -----------------------------------------------------------


def _records(state: PlatformState, ctx: Ctx) -> Answer:
    code = valid_code(ctx.params[0], "subject code")
    include_related = bool_param(ctx, "include_related")
    subject = state.subject(code)
    if subject is None:
        raise ApiError(404, "the platform has no subject with this code", "SUBJECT_NOT_FOUND")
    see = ctx.app_key in state.private_readers
    records = state.records_of(code, include_related=include_related, see_non_public=see)
    view = subject_view(subject)
    etag = etag_of({"subject": view, "records": records})
    if not_modified(ctx, etag):
        return Answer(304, b"", (("ETag", etag),))
    return json_answer(
        200,
        {"subject": view, "records": records, "as_of": state.now_text(), "etag": etag},
        (("ETag", etag),),
    )


def _batch_records(state: PlatformState, ctx: Ctx) -> Answer:
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
    normalised = [(sent, valid_code(sent, f"codes[{i}]")) for i, sent in enumerate(codes)]
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
            results.append({"code": sent, "subject": subject_view(subject), "records": records})
    return json_answer(200, {"results": results, "not_found": not_found, "as_of": state.now_text()})


# --- §5 measure lists ------------------------------------------------------------------


def _measure_list(state: PlatformState, ctx: Ctx) -> Answer:
    region = ctx.params[0]
    if re.fullmatch(r"\d{6}", region) is None:
        raise ApiError(400, f"region must be a 6-digit division code, got {region!r}")
    data = state.measure_list_for(region)
    if data is None:
        raise ApiError(404, f"no measure list for region {region}")
    etag = etag_of(data)
    if not_modified(ctx, etag):
        return Answer(304, b"", (("ETag", etag),))
    return json_answer(200, data, (("ETag", etag),))


# --- §6 cases --------------------------------------------------------------------------


def _initiate_case(state: PlatformState, ctx: Ctx) -> Answer:
    body = ctx.json()
    require(body, "case_id", "step", "region", "unit_code")
    require_time(body, "initiated_at")
    code = valid_code(body.get("subject_code"), "subject_code")
    record_ids = body.get("record_ids")
    if not isinstance(record_ids, list) or not all(is_str(r) for r in record_ids):
        raise ApiError(400, "record_ids must be a list of record ids")
    if re.fullmatch(r"\d{6}", str(body["region"])) is None:
        raise ApiError(400, f"region must be a 6-digit division code, got {body['region']!r}")
    case_id = str(body["case_id"])
    if not case_id.startswith(f"{body['unit_code']}-"):
        raise ApiError(
            400, f"a unit-initiated case_id must start with the unit code and '-': {case_id!r}"
        )
    receipt = new_receipt(state)
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


def _respond(state: PlatformState, ctx: Ctx) -> Answer:
    body = ctx.json()
    require(body, "unit_code")
    require_time(body, "responded_at")
    accepted = body.get("accepted_measures", [])
    declined = body.get("declined_measures", [])
    if not isinstance(accepted, list) or not all(is_str(c) for c in accepted):
        raise ApiError(400, "accepted_measures must be a list of measure codes")
    if not isinstance(declined, list) or not all(
        isinstance(d, dict) and is_str(d.get("code")) and is_str(d.get("reason")) for d in declined
    ):
        raise ApiError(400, "declined_measures must be a list of {code, reason}")
    with state.lock:
        case = _case(state, ctx.params[0])
        receipt = new_receipt(state)
        state.store.responses.append({**body, "case_id": case["case_id"], **receipt})
    return json_answer(201, receipt)


def _feedback(state: PlatformState, ctx: Ctx) -> Answer:
    body = ctx.json()
    require(body, "unit_code", "measure_code", "step", "action")
    require_time(body, "decided_at")
    if body["action"] not in _FEEDBACK_ACTIONS:
        raise ApiError(400, f"action {body['action']!r} is not one of {sorted(_FEEDBACK_ACTIONS)}")
    if body["action"] == "not_applied" and not is_str(body.get("detail")):
        raise ApiError(400, "action not_applied needs a detail saying why")
    with state.lock:
        case = _case(state, ctx.params[0])
        receipt = new_receipt(state)
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


def _pushes(state: PlatformState, ctx: Ctx) -> Answer:
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


_ROUTES: tuple[tuple[str, re.Pattern[str], _Handler, bool], ...] = (
    ("GET", re.compile(r"/v1/subjects/([^/]+)/records"), _records, False),
    ("POST", re.compile(r"/v1/subjects:batch-records"), _batch_records, False),
    ("GET", re.compile(r"/v1/measure-lists/([^/]+)"), _measure_list, False),
    ("POST", re.compile(r"/v1/cases"), _initiate_case, True),
    ("POST", re.compile(r"/v1/cases/([^/]+)/responses"), _respond, True),
    ("POST", re.compile(r"/v1/cases/([^/]+)/feedback"), _feedback, True),
    ("GET", re.compile(r"/v1/pushes"), _pushes, False),
    ("POST", re.compile(r"/v1/supervision-events"), supervision_event, True),
    ("POST", re.compile(r"/v1/disclosures"), disclosure, True),
    ("POST", re.compile(r"/v1/disclosures/([^/]+)/withdrawal"), withdrawal, True),
)
