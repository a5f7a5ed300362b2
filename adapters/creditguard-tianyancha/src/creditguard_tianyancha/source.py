"""The Tianyancha (天眼查) dishonest-debtor source: builds requests, reads responses.

Each code is searched by keyword: an organisation by its unified social credit
code and then by its embedded organisation code (listings from before the
unified code carry only that), a person by the ID number. Pages are fetched by
yielding further requests, at most ``max_pages`` per keyword, through the core's
one agency search loop (:mod:`creditguard.agency_search`). The guard's driver
sends the requests, retries :class:`~creditguard.errors.SourceUnavailable`
within the check's deadline and degrades on
:class:`~creditguard.errors.SourceRefused`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import httpx

from creditguard.agency_search import AgencySource, Found
from creditguard.credentials import read_secret
from creditguard.errors import ConfigError
from creditguard.identifiers import Match
from creditguard.models import CreditRecord, PossibleMatch, RecordStatus, SubjectRecords
from creditguard_tianyancha.envelope import Page, read_page
from creditguard_tianyancha.mapping import to_possible_match, to_record

__all__ = [
    "CURRENT_PATH",
    "DEFAULT_BASE_URL",
    "HISTORY_PATH",
    "TianyanchaSource",
    "create_source",
]

DEFAULT_BASE_URL: Final = "https://open.api.tianyancha.com"
CURRENT_PATH: Final = "/services/open/jr/dishonest/2.0"
HISTORY_PATH: Final = "/services/open/hi/dishonest/2.0"
DEFAULT_PAGE_SIZE: Final = 20
DEFAULT_MAX_PAGES: Final = 10


class TianyanchaSource(AgencySource[Page]):
    """An :class:`~creditguard.sources.HttpSource` over Tianyancha's dishonest-debtor API.

    ``history=True`` queries the history endpoint (listings already removed),
    whose records come back with status ``removed``. ``search_organisation_code``
    (default on) also searches an organisation by its embedded organisation code.
    ``base_url`` must be HTTPS unless it is a loopback address or
    ``allow_plain_http`` is set: the token travels in a header. ``clock`` (Unix
    seconds) dates a listing that carries no readable date; tests inject it.
    The token never appears in ``repr`` or error messages.
    """

    def __init__(
        self,
        *,
        token: str,
        name: str = "tianyancha",
        base_url: str = DEFAULT_BASE_URL,
        history: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_pages: int = DEFAULT_MAX_PAGES,
        search_organisation_code: bool = True,
        allow_plain_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not token:
            raise ConfigError(f"source {name!r}: the Tianyancha token is empty")
        super().__init__(
            name=name,
            base_url=base_url,
            secrets=(token,),
            page_size=page_size,
            max_pages=max_pages,
            search_organisation_code=search_organisation_code,
            allow_plain_http=allow_plain_http,
            clock=clock,
        )
        self.history = history
        self._token = token

    def __repr__(self) -> str:
        return (
            f"TianyanchaSource(name={self.name!r}, base_url={self.base_url!r}, "
            f"history={self.history!r}, page_size={self.page_size}, max_pages={self.max_pages})"
        )

    def request(self, keyword: str, page: int) -> httpx.Request:
        """The GET request for one page of ``keyword``'s listings."""
        path = HISTORY_PATH if self.history else CURRENT_PATH
        return httpx.Request(
            "GET",
            self.base_url + path,
            params={"keyword": keyword, "pageNum": page, "pageSize": self.page_size},
            headers={"Authorization": self._token, "Accept": "application/json"},
        )

    def read_page(self, response: httpx.Response, secrets: Sequence[str]) -> Page:
        """The page in ``response`` (see :mod:`creditguard_tianyancha.envelope`)."""
        return read_page(response, source=self.name, secrets=secrets)

    def identifier(self, item: Mapping[str, Any]) -> object:
        """``cardnum``: the debtor's ID number or organisation code, often masked."""
        return item.get("cardnum")

    def record(self, item: Mapping[str, Any]) -> CreditRecord:
        """The record of an exactly matching item (``removed`` from the history endpoint)."""
        status: RecordStatus = "removed" if self.history else "listed"
        return to_record(item, status=status, fetched_on=self.fetched_on())

    def possible_match(self, item: Mapping[str, Any], match: Match, page: Page) -> PossibleMatch:
        """A masked or name-only item, for a person to look at."""
        assert match in ("masked", "name_only")  # search() passes only these
        return to_possible_match(item, source=self.name, match=match)

    def answer(self, found: Found[Page]) -> SubjectRecords:
        """The records found; the subject named as the first exact listing names it."""
        return found.subject_records(name=next(filter(None, map(_name, found.exact_items)), None))


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
    search_organisation_code: bool = True,
    allow_plain_http: bool = False,
) -> TianyanchaSource:
    """Build the source from a ``[[sources]]`` table (``type = "tianyancha"``).

    The token comes from the environment variable named by ``token_env``
    (preferred: secrets stay out of files) or, for tests, from ``token``;
    :func:`creditguard.credentials.read_secret` refuses both, neither or an empty one.
    """
    secret = read_secret(value=token, env=token_env, where=f"source {name!r}", option="token")
    return TianyanchaSource(
        token=secret.decode() if isinstance(secret, bytes) else secret,
        name=name,
        base_url=base_url,
        history=history,
        page_size=page_size,
        max_pages=max_pages,
        search_organisation_code=search_organisation_code,
        allow_plain_http=allow_plain_http,
    )
