"""The Qichacha (企查查) dishonest-debtor check (``ShixinCheck``): builds requests, reads responses.

One search key (the organisation's code) per exchange; pages are fetched by
yielding further requests, at most ``max_pages`` of them. Every request is
signed with a fresh ``Timespan`` from the injected clock. The guard's driver
sends them, retries :class:`~creditguard.errors.SourceUnavailable` within the
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
from creditguard.models import CreditRecord, PossibleMatch, Subject, SubjectRecords
from creditguard.sources import Exchange
from creditguard_qichacha.envelope import read_page
from creditguard_qichacha.mapping import to_possible_match, to_record
from creditguard_qichacha.token import auth_headers

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_IDENTIFIER_FIELDS",
    "PATH",
    "QichachaSource",
    "create_source",
]

DEFAULT_BASE_URL: Final = "https://api.qichacha.com"
PATH: Final = "/ShixinCheck/GetList"
DEFAULT_PAGE_SIZE: Final = 20
DEFAULT_MAX_PAGES: Final = 10
#: Item fields read as the debtor's identifier when present. ShixinCheck items
#: documented so far carry none; these are the names Qichacha's company APIs
#: use for the credit code and the organisation code.
DEFAULT_IDENTIFIER_FIELDS: Final = ("CreditCode", "OrgNo")


class QichachaSource:
    """An :class:`~creditguard.sources.HttpSource` over Qichacha's ``ShixinCheck/GetList``.

    Person codes are not sent unless ``search_persons`` is set: the check is
    documented for companies, and a resident ID number should not leave the
    unit without need. They come back as ``found=False``. ``clock`` (Unix
    seconds) signs requests and dates undated listings; tests inject it.
    Neither the app key nor the secret key appears in ``repr`` or errors.
    """

    max_batch: int = 1

    def __init__(
        self,
        *,
        app_key: str,
        secret_key: str,
        name: str = "qichacha",
        base_url: str = DEFAULT_BASE_URL,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_pages: int = DEFAULT_MAX_PAGES,
        search_persons: bool = False,
        identifier_fields: Sequence[str] = DEFAULT_IDENTIFIER_FIELDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not app_key or not secret_key:
            raise ConfigError(f"source {name!r}: the Qichacha app_key and secret key are required")
        if page_size < 1 or max_pages < 1:
            raise ConfigError(f"source {name!r}: page_size and max_pages must be at least 1")
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.max_pages = max_pages
        self.search_persons = search_persons
        self.identifier_fields = tuple(identifier_fields)
        self._app_key = app_key
        self._secret_key = secret_key
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"QichachaSource(name={self.name!r}, base_url={self.base_url!r}, "
            f"page_size={self.page_size}, max_pages={self.max_pages}, "
            f"search_persons={self.search_persons!r})"
        )

    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        """Yield page requests for each code and return its records and possible matches.

        ``include_related`` is accepted and ignored: the check does not link
        people to the organisations they represent.
        """
        results: dict[str, SubjectRecords] = {}
        for code in codes:
            keys = SubjectKeys.of(code)
            if keys.kind != "organization" and not self.search_persons:
                results[code] = SubjectRecords(code=code, found=False)
                continue
            results[code] = yield from self._lookup(keys)
        return results

    def request(self, search_key: str, page: int) -> httpx.Request:
        """The signed GET request for one page of ``search_key``'s listings."""
        return httpx.Request(
            "GET",
            self.base_url + PATH,
            params={
                "key": self._app_key,
                "searchKey": search_key,
                "pageIndex": page,
                "pageSize": self.page_size,
            },
            headers={
                **auth_headers(self._app_key, self._secret_key, self._clock()),
                "Accept": "application/json",
            },
        )

    def _lookup(
        self, keys: SubjectKeys
    ) -> Generator[httpx.Request, httpx.Response, SubjectRecords]:
        fetched_on = datetime.fromtimestamp(self._clock(), CST).date()
        # A gateway's error page may echo the request: blank the person's ID number too.
        person = keys.exact if keys.kind != "organization" else ()
        secrets = (self._app_key, self._secret_key, *person)
        records: dict[str, CreditRecord] = {}
        possible: dict[tuple[str, str | None, str], PossibleMatch] = {}
        company = ""
        reported = False
        seen = 0
        page_num = 1
        while True:
            response = yield self.request(keys.keyword, page_num)
            page = read_page(response, source=self.name, secrets=secrets)
            company = company or page.company
            reported = reported or bool(page.verified)
            for item in page.items:
                identifier = self._identifier(item)
                match = keys.classify(identifier) if identifier is not None else "name_only"
                if match == "exact":
                    record = to_record(item, fetched_on=fetched_on)
                    records.setdefault(record.record_id, record)
                elif match != "other":
                    hit = to_possible_match(
                        item,
                        source=self.name,
                        name=company,
                        identifier=identifier if match == "masked" else None,
                    )
                    possible.setdefault((hit.name, hit.identifier, hit.detail), hit)
            seen += len(page.items)
            # Follow the agency's total, not our page size: it may cap pageSize lower.
            if not page.items or seen >= page.total:
                break
            if page_num >= self.max_pages:
                if not records:
                    raise SourceRefused(
                        f"{page.total} listings for {keys.shown}, more than "
                        f"max_pages × page_size = {self.max_pages * self.page_size} read "
                        "and none of those is an exact identifier match; "
                        "raise max_pages to read them all",
                        source=self.name,
                    )
                break  # already listed: further pages cannot change the outcome
            page_num += 1
        if reported and seen == 0:
            # "A listing exists" with nothing to show is still worth a human look.
            possible[("", None, "")] = to_possible_match(None, source=self.name, name=company)
        subject = None
        if records and keys.kind is not None:
            subject = Subject(code=keys.keyword, kind=keys.kind, name=company or None)
        return SubjectRecords(
            code=keys.code,
            subject=subject,
            records=tuple(records.values()),
            found=True,
            possible_matches=tuple(possible.values()),
        )

    def _identifier(self, item: Mapping[str, Any]) -> str | None:
        for field in self.identifier_fields:
            value = item.get(field)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None


def create_source(
    *,
    name: str = "qichacha",
    app_key: str | None = None,
    app_key_env: str | None = None,
    secret_key: str | None = None,
    secret_key_env: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_pages: int = DEFAULT_MAX_PAGES,
    search_persons: bool = False,
    identifier_fields: Sequence[str] = DEFAULT_IDENTIFIER_FIELDS,
) -> QichachaSource:
    """Build the source from a ``[[sources]]`` table (``type = "qichacha"``).

    The secret key comes from the environment variable named by
    ``secret_key_env`` (preferred: secrets stay out of files) or, for tests,
    from ``secret_key``; the app key likewise from ``app_key_env`` or ``app_key``.
    """
    app_key = _from_env(name, "app_key", app_key_env) if app_key_env else app_key
    secret_key = _from_env(name, "secret_key", secret_key_env) if secret_key_env else secret_key
    if not app_key:
        raise ConfigError(f"source {name!r}: set app_key (or app_key_env) to the Qichacha AppKey")
    if not secret_key:
        raise ConfigError(
            f"source {name!r}: set secret_key_env (or secret_key) to the Qichacha SecretKey"
        )
    return QichachaSource(
        app_key=app_key,
        secret_key=secret_key,
        name=name,
        base_url=base_url,
        page_size=page_size,
        max_pages=max_pages,
        search_persons=search_persons,
        identifier_fields=identifier_fields,
    )


def _from_env(name: str, option: str, variable: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise ConfigError(
            f"source {name!r}: environment variable {variable} ({option}_env) is not set"
        )
    return value
