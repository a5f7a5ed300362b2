"""The Qichacha (企查查) dishonest-debtor check (``ShixinCheck``): builds requests, reads responses.

Each organisation is searched by its unified social credit code and then by
its embedded organisation code (listings from before the unified code carry
only that); pages are fetched by yielding further requests, at most
``max_pages`` per search key, through the core's one agency search loop
(:mod:`creditguard.agency_search`). Every request is
signed with a fresh ``Timespan`` from the injected clock. The guard's driver
sends them, retries :class:`~creditguard.errors.SourceUnavailable` within the
check's deadline and degrades on :class:`~creditguard.errors.SourceRefused`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import httpx

from creditguard.agency_search import AgencySource, Found
from creditguard.credentials import read_secret
from creditguard.errors import ConfigError
from creditguard.identifiers import Match, SubjectKeys
from creditguard.models import CreditRecord, PossibleMatch, SubjectRecords
from creditguard_qichacha.envelope import Page, read_page
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


class QichachaSource(AgencySource[Page]):
    """An :class:`~creditguard.sources.HttpSource` over Qichacha's ``ShixinCheck/GetList``.

    Person codes are not sent unless ``search_persons`` is set: the check is
    documented for companies, and a resident ID number should not leave the
    unit without need. They come back as ``found=False``.
    ``search_organisation_code`` (default on) also searches an organisation by
    its embedded organisation code. ``base_url`` must be HTTPS unless it is a
    loopback address or ``allow_plain_http`` is set: the app key travels in the
    query. ``clock`` (Unix seconds) signs requests and dates undated listings;
    tests inject it.
    Neither the app key nor the secret key appears in ``repr`` or errors.
    """

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
        search_organisation_code: bool = True,
        allow_plain_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not app_key or not secret_key:
            raise ConfigError(f"source {name!r}: the Qichacha app_key and secret key are required")
        super().__init__(
            name=name,
            base_url=base_url,
            secrets=(app_key, secret_key),
            page_size=page_size,
            max_pages=max_pages,
            search_organisation_code=search_organisation_code,
            allow_plain_http=allow_plain_http,
            clock=clock,
        )
        self.search_persons = search_persons
        self.identifier_fields = tuple(identifier_fields)
        self._app_key = app_key
        self._secret_key = secret_key

    def __repr__(self) -> str:
        return (
            f"QichachaSource(name={self.name!r}, base_url={self.base_url!r}, "
            f"page_size={self.page_size}, max_pages={self.max_pages}, "
            f"search_persons={self.search_persons!r})"
        )

    def searches(self, keys: SubjectKeys) -> bool:
        """Organisations always; persons only with ``search_persons``."""
        return keys.kind == "organization" or self.search_persons

    def request(self, keyword: str, page: int) -> httpx.Request:
        """The signed GET request for one page of ``keyword``'s listings."""
        return httpx.Request(
            "GET",
            self.base_url + PATH,
            params={
                "key": self._app_key,
                "searchKey": keyword,
                "pageIndex": page,
                "pageSize": self.page_size,
            },
            headers={
                **auth_headers(self._app_key, self._secret_key, self._clock()),
                "Accept": "application/json",
            },
        )

    def read_page(self, response: httpx.Response, secrets: Sequence[str]) -> Page:
        """The page in ``response`` (see :mod:`creditguard_qichacha.envelope`)."""
        return read_page(response, source=self.name, secrets=secrets)

    def identifier(self, item: Mapping[str, Any]) -> str | None:
        """The first non-empty ``identifier_fields`` value of ``item``, else ``None``."""
        for field in self.identifier_fields:
            value = item.get(field)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None

    def record(self, item: Mapping[str, Any]) -> CreditRecord:
        """The record of an item whose identifier matched exactly."""
        return to_record(item, fetched_on=self.fetched_on())

    def possible_match(self, item: Mapping[str, Any], match: Match, page: Page) -> PossibleMatch:
        """An item Qichacha linked to the search key, for a person to look at."""
        identifier = self.identifier(item) if match == "masked" else None
        return to_possible_match(item, source=self.name, name=page.company, identifier=identifier)

    def answer(self, found: Found[Page]) -> SubjectRecords:
        """The records found, named after the company Qichacha named."""
        company = next((page.company for page in found.pages if page.company), "")
        if found.items_seen == 0 and any(page.verified for page in found.pages):
            # "A listing exists" with nothing to show is still worth a human look.
            found.add_possible(to_possible_match(None, source=self.name, name=company))
        return found.subject_records(name=company)


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
    search_organisation_code: bool = True,
    allow_plain_http: bool = False,
) -> QichachaSource:
    """Build the source from a ``[[sources]]`` table (``type = "qichacha"``).

    The secret key comes from the environment variable named by
    ``secret_key_env`` (preferred: secrets stay out of files) or, for tests,
    from ``secret_key``; the app key likewise from ``app_key_env`` or ``app_key``
    (:func:`creditguard.credentials.read_secret` refuses both, neither or an empty one).
    """
    where = f"source {name!r}"
    key = read_secret(value=app_key, env=app_key_env, where=where, option="app_key")
    secret = read_secret(value=secret_key, env=secret_key_env, where=where, option="secret_key")
    return QichachaSource(
        app_key=key.decode() if isinstance(key, bytes) else key,
        secret_key=secret.decode() if isinstance(secret, bytes) else secret,
        name=name,
        base_url=base_url,
        page_size=page_size,
        max_pages=max_pages,
        search_persons=search_persons,
        identifier_fields=identifier_fields,
        search_organisation_code=search_organisation_code,
        allow_plain_http=allow_plain_http,
    )
