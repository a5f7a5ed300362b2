"""The platform as a record source (spec §4): ``PlatformSource``.

It implements :class:`creditguard.sources.HttpSource`: ``exchange`` yields
signed requests and parses the answers; a driver sends them, with the
deadline, retries and breaker. One organisation is looked up with
``GET /v1/subjects/{code}/records`` (with ``If-None-Match`` when an earlier
answer's ETag is remembered, so a 304 reuses it), several codes with
``POST /v1/subjects:batch-records`` (at most 500 per call; the driver splits).
A person is always looked up with the batch call, even alone: the resident
ID number travels in the body, never in a URL that proxies and access logs
keep (spec §4.0 note).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from cachetools import LRUCache
from pydantic import ValidationError

from creditguard.codes import is_person_like
from creditguard.errors import ConfigError, SourceUnavailable
from creditguard.masking import mask_code
from creditguard.models import CreditRecord, Subject, SubjectRecords
from creditguard.sources import Exchange
from creditguard_platform.auth import PlatformAuth
from creditguard_platform.client import RequestBuilder, json_object, malformed
from creditguard_platform.errors import error_from_response, parse_error_body

__all__ = ["MAX_BATCH", "EtagStore", "PlatformSource"]

#: At most this many codes per batch call (spec §4.2, §9).
MAX_BATCH = 500


class EtagStore:
    """The last answer per (code, include_related) with its ETag; bounded, least recently used out.

    A ``cachetools.LRUCache`` behind a lock (cachetools caches are not thread-safe).
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._data: LRUCache[tuple[str, bool], tuple[str, SubjectRecords]] = LRUCache(
            max(maxsize, 0)
        )
        self._lock = threading.Lock()

    def get(self, code: str, include_related: bool) -> tuple[str, SubjectRecords] | None:
        """The remembered (etag, records), or ``None``."""
        with self._lock:
            return self._data.get((code, include_related))

    def put(self, code: str, include_related: bool, etag: str, records: SubjectRecords) -> None:
        """Remember an answer and its ETag."""
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[(code, include_related)] = (etag, records)

    def __len__(self) -> int:
        return len(self._data)


class PlatformSource:
    """Credit records from a platform speaking API v1; an :class:`~creditguard.sources.HttpSource`.

    ``include_related=True`` makes every lookup ask for the records of
    organizations a person represents (§4.1), whatever the caller asks.
    ``clock`` returns Unix time for the signature's timestamp (tests pin it).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        app_key: str,
        secret: str | bytes,
        *,
        include_related: bool = False,
        max_batch: int = MAX_BATCH,
        clock: Callable[[], float] | None = None,
        etag_cache_size: int = 4096,
    ) -> None:
        if not 1 <= max_batch <= MAX_BATCH:
            raise ConfigError(
                f"source {name!r}: max_batch must be 1 to {MAX_BATCH}, got {max_batch}"
            )
        try:
            self._signer = RequestBuilder(
                base_url, PlatformAuth(app_key, secret, clock=clock), name=name
            )
        except ValueError as exc:
            raise ConfigError(f"source {name!r}: {exc}") from None
        self.name = name
        self.base_url = self._signer.base_url
        self.max_batch = max_batch
        self.include_related = include_related
        self.etags = EtagStore(etag_cache_size)

    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        """Yield the request(s) for ``codes`` and return their records keyed by code."""
        related = include_related or self.include_related
        unique = list(dict.fromkeys(codes))
        if len(unique) == 1 and not is_person_like(unique[0]):
            return self._single(unique[0], related)
        return self._batch(unique, related)

    def _single(self, code: str, related: bool) -> Exchange:
        remembered = self.etags.get(code, related)
        request = self._signer.request(
            "GET",
            f"/v1/subjects/{quote(code, safe='')}/records",
            params=[("include_related", "true" if related else "false")],
            headers={"If-None-Match": remembered[0]} if remembered else None,
        )
        response = yield request
        status = response.status_code
        if status == 304:
            if remembered is None:
                raise malformed(
                    self.name, response, "", "304 Not Modified to a request without If-None-Match"
                )
            return {code: remembered[1]}
        if status == 404 and parse_error_body(response).code == "SUBJECT_NOT_FOUND":
            return {code: SubjectRecords(code=code, found=False)}
        if not 200 <= status < 300:
            raise error_from_response(response, source=self.name)
        data = json_object(self.name, response)
        records = self._subject_records(code, data, response, where="")
        etag = response.headers.get("etag") or data.get("etag")
        if isinstance(etag, str) and etag:
            self.etags.put(code, related, etag, records)
        return {code: records}

    def _batch(self, codes: list[str], related: bool) -> Exchange:
        if not codes:
            return {}
        if len(codes) > self.max_batch:
            raise ValueError(f"{len(codes)} codes in one exchange; at most {self.max_batch}")
        request = self._signer.request(
            "POST", "/v1/subjects:batch-records", body={"codes": codes, "include_related": related}
        )
        response = yield request
        if not 200 <= response.status_code < 300:
            raise error_from_response(response, source=self.name)
        data = json_object(self.name, response)
        results, not_found = data.get("results"), data.get("not_found", [])
        if not isinstance(results, list):
            raise malformed(self.name, response, "results", "expected a list")
        if not isinstance(not_found, list):
            raise malformed(self.name, response, "not_found", "expected a list")
        wanted = set(codes)
        out: dict[str, SubjectRecords] = {}

        def claim(code: Any, where: str) -> str:
            if not isinstance(code, str):
                raise malformed(self.name, response, where, "expected a subject code string")
            if code not in wanted:
                raise malformed(self.name, response, where, f"{mask_code(code)} was not requested")
            if code in out:
                raise malformed(
                    self.name, response, where, f"{mask_code(code)} appears more than once"
                )
            return code

        for i, item in enumerate(results):
            if not isinstance(item, dict):
                raise malformed(self.name, response, f"results[{i}]", "expected an object")
            code = claim(item.get("code"), f"results[{i}].code")
            out[code] = self._subject_records(code, item, response, where=f"results[{i}].")
        for i, code in enumerate(not_found):
            out[claim(code, f"not_found[{i}]")] = SubjectRecords(code=code, found=False)
        if len(out) != len(codes):
            missing = [mask_code(c) for c in codes if c not in out]
            raise malformed(
                self.name,
                response,
                "",
                f"{len(missing)} codes in neither results nor not_found: {missing[:3]}",
            )
        return out

    def _subject_records(
        self, code: str, data: dict[str, Any], response: httpx.Response, *, where: str
    ) -> SubjectRecords:
        raw_records = data.get("records")
        if not isinstance(raw_records, list):
            raise malformed(self.name, response, f"{where}records", "expected a list")
        raw_subject = data.get("subject")
        try:
            subject = Subject.model_validate(raw_subject) if raw_subject is not None else None
        except ValidationError as exc:
            raise _invalid(self.name, response, f"{where}subject", exc) from None
        records = []
        for i, raw in enumerate(raw_records):
            try:
                records.append(CreditRecord.model_validate(raw))
            except ValidationError as exc:
                raise _invalid(self.name, response, f"{where}records[{i}]", exc) from None
        return SubjectRecords(code=code, subject=subject, records=tuple(records))

    def __repr__(self) -> str:
        return (
            f"PlatformSource(name={self.name!r}, base_url={self.base_url!r}, "
            f"app_key={self._signer.app_key!r}, max_batch={self.max_batch})"
        )


def _invalid(
    source: str, response: httpx.Response, where: str, exc: ValidationError
) -> SourceUnavailable:
    first = exc.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return malformed(source, response, f"{where}{loc}", f"{first['msg']}{more}")
