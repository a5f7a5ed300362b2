"""A source for a (fictional) city credit API: ``GET {base}/credit/{code}``.

The answer is ``{"subject": {"name": ...} | null, "items": [<spec §4 record>, ...]}``
and 404 for a code the city has never seen. This class only builds requests and
parses responses; the guard's drivers send them with retries, one deadline per
check, a circuit breaker and caching, from sync and async code alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from pydantic import ValidationError

from creditguard.agency_http import excerpt
from creditguard.errors import SourceRefused, SourceUnavailable
from creditguard.masking import mask_text
from creditguard.models import CreditRecord, Subject, SubjectRecords
from creditguard.remote.retry import classify_status, parse_retry_after
from creditguard.sources import Exchange


class CityCreditSource:
    """HttpSource for the city credit API (one code per request)."""

    max_batch = 1

    def __init__(self, *, name: str, base_url: str, token: str) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._token = token

    def __repr__(self) -> str:  # never show the token
        return f"CityCreditSource(name={self.name!r}, base_url={self.base_url!r})"

    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        """Yield one request per code, receive its response, return the records."""
        out: dict[str, SubjectRecords] = {}
        for code in codes:
            request = httpx.Request(
                "GET",
                f"{self.base_url}/credit/{code}",
                headers={"Authorization": f"Bearer {self._token}"},
            )
            response = yield request
            out[code] = self._parse(code, response)
        return out

    def _excerpt(self, response: httpx.Response) -> str:
        # A gateway may echo the request: blank the token, mask ID numbers.
        return mask_text(excerpt(response, (self._token,)))

    def _parse(self, code: str, response: httpx.Response) -> SubjectRecords:
        if response.status_code == 404:
            return SubjectRecords(code=code, found=False)
        # One classification and one Retry-After parser for every adapter (408, 425, 429, 5xx).
        if classify_status(response.status_code) == "retryable":
            raise SourceUnavailable(
                "city credit API is busy or failing",
                source=self.name,
                status=response.status_code,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code != 200:
            raise SourceRefused(
                "city credit API refused the request",
                source=self.name,
                status=response.status_code,
                excerpt=self._excerpt(response),
            )
        try:
            body = response.json()
            records = tuple(CreditRecord.model_validate(item) for item in body["items"])
            subject = body.get("subject")
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise SourceUnavailable(
                f"city credit API sent a malformed answer: {exc}",
                source=self.name,
                status=200,
                excerpt=self._excerpt(response),
            ) from None
        kind = (
            "person"
            if code[:17].isdigit() and len(code) == 18 and code[0] != "9"
            else "organization"
        )
        subj = (
            Subject(code=code, kind=kind, name=subject.get("name"))
            if isinstance(subject, dict)
            else None
        )
        return SubjectRecords(code=code, subject=subj, records=records)
