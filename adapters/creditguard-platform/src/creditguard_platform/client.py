"""Signed requests and parsed answers for platform API v1, sans I/O.

:class:`RequestBuilder` builds ``httpx.Request`` objects under one base URL
and signs them with :class:`~creditguard_platform.auth.PlatformAuth` (spec
§2) over the path and query exactly as sent, base-URL prefix included.

:class:`PlatformClient` has a ``build_*`` method per endpoint (returns the
request to send) and a ``parse_*`` method (takes the response, returns plain
data or raises per spec §3). It owns no HTTP client: send the requests with a
driver, ``httpx.Client`` or ``httpx.AsyncClient``.

A 2xx answer whose body does not fit the spec is reported as
:class:`~creditguard.errors.SourceUnavailable` whose message names the field:
it is the platform (or a proxy in front of it) misbehaving, which is usually
temporary, and retrying or delivering later is the safe reaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from creditguard.channels import PushEvent, PushPage
from creditguard.errors import SourceRefused, SourceUnavailable
from creditguard.measures.loader import parse_measure_list
from creditguard.models import AppliesTo, CreditRecord, LegalBasis, Measure, MeasureList, Withdrawal
from creditguard_platform.auth import PlatformAuth
from creditguard_platform.errors import error_from_response, mask_text

__all__ = [
    "MAX_REQUEST_BYTES",
    "MeasureListAnswer",
    "PlatformClient",
    "RequestBuilder",
    "json_object",
    "malformed",
    "push_event",
]

#: Request bodies are at most 1 MiB (spec §1).
MAX_REQUEST_BYTES = 1024 * 1024


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot send a {type(value).__name__} as JSON")


def _encode(body: Mapping[str, Any] | BaseModel) -> bytes:
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return json.dumps(
        data, ensure_ascii=False, separators=(",", ":"), default=_json_default
    ).encode()


class RequestBuilder:
    """Builds requests against one platform, each signed by the unit's :class:`PlatformAuth`."""

    def __init__(
        self,
        base_url: str,
        auth: PlatformAuth,
        *,
        name: str = "platform",
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.name = name

    @property
    def app_key(self) -> str:
        """The unit's application key id."""
        return self.auth.app_key

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        body: Mapping[str, Any] | BaseModel | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """A signed request for ``path`` (starting ``/v1/``) under the base URL."""
        content = b"" if body is None else _encode(body)
        if len(content) > MAX_REQUEST_BYTES:
            raise SourceRefused(
                f"request body of {len(content)} bytes exceeds the platform's limit of {MAX_REQUEST_BYTES}",
                source=self.name,
                code="PAYLOAD_TOO_LARGE",
            )
        all_headers = {"Accept": "application/json"}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        url = httpx.URL(self.base_url + path, params=list(params) or None)
        return self.auth.sign(httpx.Request(method, url, headers=all_headers, content=content))

    def __repr__(self) -> str:
        return f"RequestBuilder(base_url={self.base_url!r}, app_key={self.app_key!r})"


def malformed(source: str, response: httpx.Response, where: str, problem: str) -> SourceUnavailable:
    """The error for a 2xx answer that does not fit the spec, naming the field."""
    field = f"{where}: " if where else ""
    return SourceUnavailable(
        f"malformed answer: {field}{problem}", source=source, status=response.status_code
    )


def json_object(source: str, response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a 2xx answer, or :func:`malformed` when it is not one."""
    try:
        data: Any = json.loads(response.content)
    except ValueError:
        text = response.content.decode("utf-8", errors="replace")
        raise SourceUnavailable(
            "malformed answer: body is not JSON",
            source=source,
            status=response.status_code,
            excerpt=mask_text(text[:200]) or None,
        ) from None
    if not isinstance(data, dict):
        raise malformed(source, response, "", f"expected a JSON object, got {type(data).__name__}")
    return data


@dataclass(frozen=True, slots=True)
class MeasureListAnswer:
    """A measure-list fetch: the list and its ETag, or ``not_modified`` after a 304."""

    measure_list: MeasureList | None
    etag: str | None
    not_modified: bool = False


_KNOWN = {
    "list": set(MeasureList.model_fields),
    "measure": set(Measure.model_fields),
    "applies_to": set(AppliesTo.model_fields),
    "withdrawal": set(Withdrawal.model_fields),
    "legal_basis": set(LegalBasis.model_fields),
}


def _known(data: Any, kind: str) -> Any:
    return {k: v for k, v in data.items() if k in _KNOWN[kind]} if isinstance(data, dict) else data


def _lenient_measure_list(data: dict[str, Any]) -> dict[str, Any]:
    # Spec §5.1: unknown fields are ignored at every level, so drop them before
    # the strict file validator sees them.
    out: dict[str, Any] = _known(data, "list")
    if isinstance(out.get("measures"), list):
        measures = []
        for item in out["measures"]:
            m = _known(item, "measure")
            if isinstance(m, dict):
                m["applies_to"] = _known(m.get("applies_to"), "applies_to")
                if isinstance(m.get("legal_basis"), list):
                    m["legal_basis"] = [_known(b, "legal_basis") for b in m["legal_basis"]]
            measures.append(m)
        out["measures"] = measures
    if isinstance(out.get("withdraws"), list):
        out["withdraws"] = [_known(w, "withdrawal") for w in out["withdraws"]]
    return out


class PlatformClient:
    """Request builders and response parsers for the platform's non-lookup endpoints.

    Measure lists (§5.1), the push feed (§7.1), cases (§6.1–6.3), supervision
    events (§10.1) and disclosures (§11.1). The POSTs take the
    ``Idempotency-Key`` the caller derived deterministically (the outbox).
    """

    def __init__(
        self,
        base_url: str,
        app_key: str,
        secret: str | bytes,
        *,
        name: str = "platform",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self._signer = RequestBuilder(
            base_url, PlatformAuth(app_key, secret, clock=clock), name=name
        )

    @property
    def base_url(self) -> str:
        """The platform's base URL (without a trailing slash)."""
        return self._signer.base_url

    # --- measure lists (§5.1) ---------------------------------------------------------

    def build_measure_list(self, region: str, *, etag: str | None = None) -> httpx.Request:
        """GET the measure list in force for ``region``; ``etag`` asks for a 304 when unchanged."""
        headers = {"If-None-Match": etag} if etag else None
        return self._signer.request(
            "GET", f"/v1/measure-lists/{quote(region, safe='')}", headers=headers
        )

    def parse_measure_list(self, response: httpx.Response) -> MeasureListAnswer:
        """The list (validated leniently: unknown fields ignored) or ``not_modified``.

        An unknown ``effect`` or any other invalid measure raises
        :class:`~creditguard.errors.MeasureListError` naming the measure code.
        """
        if response.status_code == 304:
            return MeasureListAnswer(None, response.headers.get("etag"), not_modified=True)
        self._raise_for_status(response)
        data = json_object(self.name, response)
        where = (
            f"{self.name} measure list {data.get('region', '?')} version {data.get('version', '?')}"
        )
        measure_list = parse_measure_list(
            json.dumps(_lenient_measure_list(data), ensure_ascii=False), name=where, fmt="json"
        )
        return MeasureListAnswer(
            measure_list, response.headers.get("etag") or _str_or_none(data.get("etag"))
        )

    # --- push feed (§7.1) -------------------------------------------------------------

    def build_pushes(self, cursor: str | None = None, *, limit: int = 100) -> httpx.Request:
        """GET one page of the push feed after ``cursor`` (``None``: from the beginning)."""
        if not 1 <= limit <= 1000:
            raise ValueError(f"limit must be 1 to 1000, got {limit}")
        params = [("limit", str(limit))]
        if cursor is not None:
            params.insert(0, ("cursor", cursor))
        return self._signer.request("GET", "/v1/pushes", params=params)

    def parse_pushes(self, response: httpx.Response) -> PushPage:
        """The page's events (every type kept; unknown ones are the caller's to skip) and cursor.

        An event whose id and type are readable but whose content is not
        becomes a :class:`~creditguard.channels.PushEvent` with ``problem``
        set, so one bad event is counted, not fatal to the page.
        """
        self._raise_for_status(response)
        data = json_object(self.name, response)
        events = data.get("events")
        if not isinstance(events, list):
            raise malformed(self.name, response, "events", "expected a list")
        out = []
        for i, event in enumerate(events):
            if not isinstance(event, dict):
                raise malformed(self.name, response, f"events[{i}]", "expected an object")
            for key in ("event_id", "type"):
                if not isinstance(event.get(key), str) or not event[key]:
                    raise malformed(
                        self.name, response, f"events[{i}].{key}", "expected a non-empty string"
                    )
            out.append(push_event(event))
        cursor = data.get("next_cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise malformed(self.name, response, "next_cursor", "expected a string")
        return PushPage(tuple(out), cursor)

    # --- cases (§6), supervision events (§10), disclosures (§11) ------------------------

    def build_case(
        self, body: Mapping[str, Any] | BaseModel, *, idempotency_key: str
    ) -> httpx.Request:
        """POST /v1/cases: initiate a case from this unit's side (§6.1)."""
        return self._post("/v1/cases", body, idempotency_key)

    def build_case_response(
        self, case_id: str, body: Mapping[str, Any] | BaseModel, *, idempotency_key: str
    ) -> httpx.Request:
        """POST /v1/cases/{case_id}/responses: accept or decline measures (§6.2)."""
        return self._post(f"/v1/cases/{quote(case_id, safe='')}/responses", body, idempotency_key)

    def build_case_feedback(
        self, case_id: str, body: Mapping[str, Any] | BaseModel, *, idempotency_key: str
    ) -> httpx.Request:
        """POST /v1/cases/{case_id}/feedback: report what the unit did (§6.3)."""
        return self._post(f"/v1/cases/{quote(case_id, safe='')}/feedback", body, idempotency_key)

    def build_supervision_event(
        self, body: Mapping[str, Any] | BaseModel, *, idempotency_key: str
    ) -> httpx.Request:
        """POST /v1/supervision-events (§10.1)."""
        return self._post("/v1/supervision-events", body, idempotency_key)

    def build_disclosure(
        self, body: Mapping[str, Any] | BaseModel, *, idempotency_key: str
    ) -> httpx.Request:
        """POST /v1/disclosures (§11.1)."""
        return self._post("/v1/disclosures", body, idempotency_key)

    def build_disclosure_withdrawal(
        self, disclosure_id: str, body: Mapping[str, Any] | BaseModel, *, idempotency_key: str
    ) -> httpx.Request:
        """POST /v1/disclosures/{disclosure_id}/withdrawal (§11.2)."""
        path = f"/v1/disclosures/{quote(disclosure_id, safe='')}/withdrawal"
        return self._post(path, body, idempotency_key)

    def parse_receipt(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON body of a 200/201 answer to any POST above, or raise per spec §3.

        A 404 ``CASE_NOT_FOUND`` is raised as ``SourceRefused`` with that
        ``code``: the outbox treats it as "initiation not delivered yet" (§6),
        not as a refusal. A 409 ``IDEMPOTENCY_CONFLICT`` is a refusal to dead-letter.
        """
        self._raise_for_status(response)
        return json_object(self.name, response)

    # --- helpers ----------------------------------------------------------------------

    def _post(self, path: str, body: Mapping[str, Any] | BaseModel, key: str) -> httpx.Request:
        if not 1 <= len(key) <= 128:
            raise ValueError("Idempotency-Key must be 1 to 128 characters")
        return self._signer.request("POST", path, body=body, headers={"Idempotency-Key": key})

    def _raise_for_status(self, response: httpx.Response) -> None:
        if not 200 <= response.status_code < 300:
            raise error_from_response(response, source=self.name)

    def __repr__(self) -> str:
        return f"PlatformClient(name={self.name!r}, base_url={self.base_url!r}, app_key={self._signer.app_key!r})"


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _text(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def push_event(event: Mapping[str, Any]) -> PushEvent:
    """A spec §7.1 event object as core's :class:`~creditguard.channels.PushEvent`.

    ``event_id`` and ``type`` must be non-empty strings (else ``ValueError``);
    any other problem (a record that does not validate, a field of the wrong
    type) is kept in ``problem`` for the feed to count as rejected.
    """
    event_id, kind = event.get("event_id"), event.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(kind, str) or not kind:
        raise ValueError("an event needs a non-empty event_id and type")
    try:
        record = None
        if kind in ("record.added", "record.updated"):
            raw = event.get("record")
            if not isinstance(raw, dict):
                raise ValueError("record must be an object")
            record = CreditRecord.model_validate(raw)
        measures = event.get("measures", [])
        if not isinstance(measures, list) or not all(isinstance(m, str) for m in measures):
            raise ValueError("measures must be a list of strings")
        return PushEvent(
            event_id=event_id,
            type=kind,
            subject_code=_text(event, "subject_code"),
            record=record,
            record_id=_text(event, "record_id"),
            case_id=_text(event, "case_id"),
            measures=tuple(measures),
            region=_text(event, "region"),
            version=_text(event, "version"),
            at=_text(event, "at"),
        )
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return PushEvent(
            event_id=event_id,
            type=kind,
            subject_code=str(event.get("subject_code", "")),
            problem=mask_text(first[:200]),
        )
