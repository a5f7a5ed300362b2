"""One search loop for keyword-search agencies (Tianyancha, Qichacha …).

An agency adapter subclasses :class:`AgencySource` and describes its API (how
to build the request for one page of one keyword, how to read a page, where an
item carries its identifier, how an item becomes a record or a possible match,
what the answer is); the base class's ``exchange`` runs :func:`search` for
every code::

    class MyAgencySource(AgencySource[MyPage]):
        def request(self, keyword: str, page: int) -> httpx.Request: ...
        def read_page(self, response, secrets) -> MyPage: ...
        def identifier(self, item) -> object: return item.get("idNumber")
        def record(self, item) -> CreditRecord: ...
        def possible_match(self, item, match, page) -> PossibleMatch: ...
        def answer(self, found) -> SubjectRecords: return found.subject_records()

:func:`search` queries every keyword of :func:`search_keywords` in turn (an
organisation: its unified social credit code, then its embedded organisation
code, which is all that listings from before the unified code carry), follows
each keyword's pages until the agency's total is read or ``max_pages`` is
reached, and sorts every item with :meth:`~creditguard.identifiers.SubjectKeys.classify`:
only an exact identifier becomes a record; a masked or absent identifier is a
possible match for a person to look at; another subject's identifier is dropped.

Every request is one the guard's driver sends, so the extra keyword is covered
by the check's deadline, retries and breaker, and its answer is part of the
one cached result of the code.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Protocol, TypeVar

import httpx

from creditguard.agency_http import secure_base_url
from creditguard.clock import CST
from creditguard.errors import ConfigError, SourceRefused
from creditguard.identifiers import Match, SubjectKeys
from creditguard.models import CreditRecord, PossibleMatch, Subject, SubjectRecords
from creditguard.sources import Exchange

__all__ = [
    "AgencyPage",
    "AgencySource",
    "Found",
    "organisation_code_keyword",
    "request_secrets",
    "search",
    "search_keywords",
]

Item = Mapping[str, Any]


class AgencyPage(Protocol):
    """What an adapter's page reader returns: the agency's total and this page's items."""

    @property
    def total(self) -> int:
        """How many items the agency says match the keyword (``-1``: not said)."""
        ...

    @property
    def items(self) -> Sequence[Item]:
        """This page's items."""
        ...


PageT = TypeVar("PageT", bound=AgencyPage)


class AgencySource(Generic[PageT]):
    """Base of an :class:`~creditguard.sources.HttpSource` over a keyword-search agency.

    It holds what every such source shares (name, a safe ``base_url``, paging
    limits, the clock) and implements ``exchange`` with :func:`search`. A
    subclass says how its agency's API looks by implementing :meth:`request`,
    :meth:`read_page`, :meth:`identifier`, :meth:`record`,
    :meth:`possible_match` and :meth:`answer`, and may narrow :meth:`searches`.
    ``secrets`` are blanked out of any body an error quotes.
    """

    max_batch: int = 1

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        secrets: Sequence[str],
        page_size: int,
        max_pages: int,
        search_organisation_code: bool,
        allow_plain_http: bool,
        clock: Callable[[], float],
    ) -> None:
        if page_size < 1 or max_pages < 1:
            raise ConfigError(f"source {name!r}: page_size and max_pages must be at least 1")
        self.name = name
        self.base_url = secure_base_url(base_url, source=name, allow_plain_http=allow_plain_http)
        self.page_size = page_size
        self.max_pages = max_pages
        self.search_organisation_code = search_organisation_code
        self._secrets = tuple(secrets)
        self._clock = clock

    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        """Yield page requests for each code and return its records and possible matches.

        ``include_related`` is accepted and ignored: keyword-search agencies do
        not link people to the organisations they represent.
        """
        results: dict[str, SubjectRecords] = {}
        for code in codes:
            keys = SubjectKeys.of(code)
            if not self.searches(keys):
                results[code] = SubjectRecords(code=code, found=False)
                continue
            found = yield from search(self, keys)
            results[code] = self.answer(found)
        return results

    def fetched_on(self) -> date:
        """Today in China Standard Time by the source's clock: the date a listing was seen."""
        return datetime.fromtimestamp(self._clock(), CST).date()

    def searches(self, keys: SubjectKeys) -> bool:
        """Whether to search the agency for ``keys`` at all (else: ``found=False``)."""
        return True

    def request(self, keyword: str, page: int) -> httpx.Request:
        """The request for page ``page`` (from 1) of ``keyword``'s listings."""
        raise NotImplementedError

    def read_page(self, response: httpx.Response, secrets: Sequence[str]) -> PageT:
        """The page in ``response``, or raise a :class:`~creditguard.errors.SourceError`.

        ``secrets`` (the source's and a person's numbers) are blanked out of quoted bodies.
        """
        raise NotImplementedError

    def identifier(self, item: Item) -> object:
        """The identifier ``item`` carries (``None`` or ``""``: none, a name-only match)."""
        raise NotImplementedError

    def record(self, item: Item) -> CreditRecord:
        """The record of an item whose identifier matched exactly."""
        raise NotImplementedError

    def possible_match(self, item: Item, match: Match, page: PageT) -> PossibleMatch:
        """The possible match of ``item`` on ``page`` (``match``: ``masked`` or ``name_only``)."""
        raise NotImplementedError

    def answer(self, found: Found[PageT]) -> SubjectRecords:
        """The lookup's answer from what :func:`search` found."""
        raise NotImplementedError


@dataclass(slots=True)
class Found(Generic[PageT]):
    """What :func:`search` collected for one subject."""

    keys: SubjectKeys
    #: every page read, in order (an adapter reads envelope fields from them)
    pages: list[PageT] = field(default_factory=list)
    #: records by record id (first one kept)
    records: dict[str, CreditRecord] = field(default_factory=dict)
    #: the items that became records, in order
    exact_items: list[Item] = field(default_factory=list)
    #: possible matches, duplicates removed
    possible: dict[tuple[str, str | None, str], PossibleMatch] = field(default_factory=dict)

    @property
    def items_seen(self) -> int:
        """How many items all pages held."""
        return sum(len(page.items) for page in self.pages)

    def add_possible(self, hit: PossibleMatch) -> None:
        """Add a possible match unless an identical one is there."""
        self.possible.setdefault((hit.name, hit.identifier, hit.detail), hit)

    def subject_records(self, *, name: str | None = None) -> SubjectRecords:
        """The lookup's answer; ``name`` names the subject when there are records."""
        keys = self.keys
        subject = None
        if self.records and keys.kind is not None:
            subject = Subject(code=keys.keyword, kind=keys.kind, name=name or None)
        return SubjectRecords(
            code=keys.code,
            subject=subject,
            records=tuple(self.records.values()),
            found=True,
            possible_matches=tuple(self.possible.values()),
        )


def organisation_code_keyword(keys: SubjectKeys) -> str | None:
    """The embedded organisation code of an organisation, as written (``71092546-2``), else ``None``."""
    if keys.kind != "organization" or len(keys.keyword) != 18:
        return None
    code = keys.keyword[8:17]
    return f"{code[:8]}-{code[8]}"


def search_keywords(keys: SubjectKeys, *, organisation_code: bool = True) -> tuple[str, ...]:
    """The keywords one subject is searched by: its code, then (organisations) its organisation code."""
    extra = organisation_code_keyword(keys) if organisation_code else None
    return (keys.keyword, extra) if extra else (keys.keyword,)


def request_secrets(keys: SubjectKeys, secrets: Sequence[str]) -> tuple[str, ...]:
    """``secrets`` plus, for a person, the ID numbers sent: a gateway's error page may echo them."""
    person = keys.exact if keys.kind != "organization" else ()
    return (*secrets, *person)


def search(
    source: AgencySource[PageT], keys: SubjectKeys
) -> Generator[httpx.Request, httpx.Response, Found[PageT]]:
    """Yield the page requests of every keyword of ``keys``; return what they found.

    Raises :class:`~creditguard.errors.SourceRefused` when a keyword has more
    listings than ``max_pages × page_size`` and nothing read so far is an
    exact match: an exact match may sit on a page not read, so the subject
    cannot be reported clean. The page reader's errors propagate.
    """
    found: Found[PageT] = Found(keys)
    secrets = request_secrets(keys, source._secrets)
    for keyword in search_keywords(keys, organisation_code=source.search_organisation_code):
        seen = 0
        page_num = 1
        while True:
            response = yield source.request(keyword, page_num)
            page = source.read_page(response, secrets)
            found.pages.append(page)
            for item in page.items:
                _sort(source, found, item, page)
            seen += len(page.items)
            # Follow the agency's total, not our page size: it may cap pageSize lower.
            if not page.items or seen >= page.total:
                break
            if page_num >= source.max_pages:
                if not found.records:
                    shown = keys.shown if keyword == keys.keyword else keyword
                    raise SourceRefused(
                        f"{page.total} listings match {shown}, more than "
                        f"max_pages × page_size = {source.max_pages * source.page_size} read "
                        "and none of those is an exact identifier match; "
                        "raise max_pages to read them all",
                        source=source.name,
                    )
                break  # already listed: further pages cannot change the outcome
            page_num += 1
    return found


def _sort(source: AgencySource[PageT], found: Found[PageT], item: Item, page: PageT) -> None:
    match = found.keys.classify(source.identifier(item))
    if match == "exact":
        record = source.record(item)
        if record.record_id not in found.records:
            found.records[record.record_id] = record
            found.exact_items.append(item)
    elif match != "other":
        found.add_possible(source.possible_match(item, match, page))
