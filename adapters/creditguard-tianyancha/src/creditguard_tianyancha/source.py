"""The Tianyancha (天眼查) dishonest-debtor source: builds requests, reads responses.

One keyword (the subject's code) per exchange; pages are fetched by yielding
further requests, at most ``max_pages`` of them. The guard's driver sends the
requests, retries :class:`~creditguard.errors.SourceUnavailable` within the
check's deadline and degrades on :class:`~creditguard.errors.SourceRefused`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import httpx

from creditguard.agency_dates import CST
from creditguard.errors import ConfigError, SourceRefused
from creditguard.identifiers import SubjectKeys
from creditguard.models import (
    CreditRecord,
    PossibleMatch,
    RecordStatus,
    Subject,
    SubjectRecords,
)
from creditguard.sources import Exchange
from creditguard_tianyancha.envelope import read_page
from creditguard_tianyancha.mapping import to_possible_match, to_record

__all__ = [
    "CURRENT_PATH",
    "DEFAULT_BASE_URL",
    "HISTORY_PATH",
    "TianyanchaSource",
    "create_source",
]

DEFAULT_BASE_URL: Final = "http://open.api.tianyancha.com"
CURRENT_PATH: Final = "/services/open/jr/dishonest/2.0"
HISTORY_PATH: Final = "/services/open/hi/dishonest/2.0"
DEFAULT_PAGE_SIZE: Final = 20
DEFAULT_MAX_PAGES: Final = 10


class TianyanchaSource:
    """An :class:`~creditguard.sources.HttpSource` over Tianyancha's dishonest-debtor API.

    ``history=True`` queries the history endpoint (listings already removed),
    whose records come back with status ``removed``. ``clock`` (Unix seconds)
    dates a listing that carries no readable date; tests inject it.
    The token never appears in ``repr`` or error messages.
    """

    max_batch: int = 1

    def __init__(
        self,
        *,
        token: str,
        name: str = "tianyancha",
        base_url: str = DEFAULT_BASE_URL,
        history: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_pages: int = DEFAULT_MAX_PAGES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not token:
            raise ConfigError(f"source {name!r}: the Tianyancha token is empty")
        if page_size < 1 or max_pages < 1:
            raise ConfigError(f"source {name!r}: page_size and max_pages must be at least 1")
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.history = history
        self.page_size = page_size
        self.max_pages = max_pages
        self._token = token
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"TianyanchaSource(name={self.name!r}, base_url={self.base_url!r}, "
            f"history={self.history!r}, page_size={self.page_size}, max_pages={self.max_pages})"
        )

    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        """Yield page requests for each code and return its records and possible matches.

        ``include_related`` is accepted and ignored: the agency does not link
        people to the organisations they represent.
        """
        results: dict[str, SubjectRecords] = {}
        for code in codes:
            results[code] = yield from self._lookup(SubjectKeys.of(code))
        return results

    def request(self, keyword: str, page: int) -> httpx.Request:
        """The GET request for one page of ``keyword``'s listings."""
        path = HISTORY_PATH if self.history else CURRENT_PATH
        return httpx.Request(
            "GET",
            self.base_url + path,
            params={"keyword": keyword, "pageNum": page, "pageSize": self.page_size},
            headers={"Authorization": self._token, "Accept": "application/json"},
        )

    def _lookup(
        self, keys: SubjectKeys
    ) -> Generator[httpx.Request, httpx.Response, SubjectRecords]:
        fetched_on = datetime.fromtimestamp(self._clock(), CST).date()
        status: RecordStatus = "removed" if self.history else "listed"
        records: dict[str, CreditRecord] = {}
        possible: dict[tuple[str, str | None, str], PossibleMatch] = {}
        subject_name: str | None = None
        # A gateway's error page may echo the request: blank the person's ID number too.
        secrets = (self._token, *(keys.exact if keys.kind != "organization" else ()))
        seen = 0
        page_num = 1
        while True:
            response = yield self.request(keys.keyword, page_num)
            page = read_page(response, source=self.name, secrets=secrets)
            for item in page.items:
                match = keys.classify(item.get("cardnum"))
                if match == "exact":
                    record = to_record(item, status=status, fetched_on=fetched_on)
                    records.setdefault(record.record_id, record)
                    subject_name = subject_name or _name(item)
                elif match != "other":
                    hit = to_possible_match(item, source=self.name, match=match)
                    possible.setdefault((hit.name, hit.identifier, hit.detail), hit)
            seen += len(page.items)
            # Follow the agency's total, not our page size: it may cap pageSize lower.
            if not page.items or seen >= page.total:
                break
            if page_num >= self.max_pages:
                if not records:
                    # An exact match may sit on a page we did not read: refuse
                    # rather than report the subject clean.
                    raise SourceRefused(
                        f"{page.total} listings match {keys.shown}, more than "
                        f"max_pages × page_size = {self.max_pages * self.page_size} read "
                        "and none of those is an exact identifier match; "
                        "raise max_pages to read them all",
                        source=self.name,
                    )
                break  # already listed: further pages cannot change the outcome
            page_num += 1
        subject = None
        if records and keys.kind is not None:
            subject = Subject(code=keys.keyword, kind=keys.kind, name=subject_name)
        return SubjectRecords(
            code=keys.code,
            subject=subject,
            records=tuple(records.values()),
            found=True,
            possible_matches=tuple(possible.values()),
        )


def _name(item: Mapping[str, Any]) -> str | None:
    value = item.get("iname")
    if value is None:
        return None
    return str(value).strip() or None


def create_source(
    *,
    name: str = "tianyancha",
    token: str | None = None,
    token_env: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    history: bool = False,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> TianyanchaSource:
    """Build the source from a ``[[sources]]`` table (``type = "tianyancha"``).

    The token comes from the environment variable named by ``token_env``
    (preferred: secrets stay out of files) or, for tests, from ``token``.
    """
    if token_env:
        token = os.environ.get(token_env, "")
        if not token:
            raise ConfigError(
                f"source {name!r}: environment variable {token_env} (token_env) is not set"
            )
    if not token:
        raise ConfigError(f"source {name!r}: set token_env (or token) to the Tianyancha token")
    return TianyanchaSource(
        token=token,
        name=name,
        base_url=base_url,
        history=history,
        page_size=page_size,
        max_pages=max_pages,
    )
