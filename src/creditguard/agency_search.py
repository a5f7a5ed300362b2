"""One search loop for keyword-search agencies (Tianyancha, Qichacha …).

An agency adapter describes its API in an :class:`AgencySearch` (how to build
the request for one page of one keyword, how to read a page, where an item
carries its identifier, how an item becomes a record or a possible match) and
runs :func:`search` inside its ``exchange`` generator::

    found = yield from search(self._search, SubjectKeys.of(code))
    return found.subject_records(name=...)

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

from creditguard.clock import CST
from creditguard.errors import SourceRefused
from creditguard.identifiers import Match, SubjectKeys
from creditguard.models import CreditRecord, PossibleMatch, Subject, SubjectRecords

__all__ = [
    "AgencyPage",
    "AgencySearch",
    "Found",
    "fetched_on",
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


@dataclass(frozen=True, slots=True)
class AgencySearch(Generic[PageT]):
    """An agency's keyword search, described for :func:`search`."""

    #: the source name (errors name it)
    source: str
    #: the request for page ``page`` (from 1) of ``keyword``
    request: Callable[[str, int], httpx.Request]
    #: the page in a response, or raise a :class:`~creditguard.errors.SourceError`;
    #: the second argument is the texts to blank out of quoted bodies
    read: Callable[[httpx.Response, Sequence[str]], PageT]
    #: the identifier an item carries (``None`` or ``""``: none, a name-only match)
    identifier: Callable[[Item], object]
    #: the record of an item whose identifier matched exactly
    record: Callable[[Item], CreditRecord]
    #: the possible match of an item (``match`` is ``masked`` or ``name_only``) on ``page``
    possible: Callable[[Item, Match, PageT], PossibleMatch]
    #: the secrets of the adapter (tokens, keys): blanked out of quoted bodies
    secrets: Sequence[str] = ()
    page_size: int = 20
    max_pages: int = 10
    #: also query the embedded organisation code of an organisation
    organisation_code: bool = True


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


def fetched_on(clock: Callable[[], float]) -> date:
    """Today in China Standard Time by ``clock`` (Unix seconds): the date a listing was seen."""
    return datetime.fromtimestamp(clock(), CST).date()


def search(
    spec: AgencySearch[PageT], keys: SubjectKeys
) -> Generator[httpx.Request, httpx.Response, Found[PageT]]:
    """Yield the page requests of every keyword of ``keys``; return what they found.

    Raises :class:`~creditguard.errors.SourceRefused` when a keyword has more
    listings than ``max_pages × page_size`` and nothing read so far is an
    exact match: an exact match may sit on a page not read, so the subject
    cannot be reported clean. The page reader's errors propagate.
    """
    found: Found[PageT] = Found(keys)
    secrets = request_secrets(keys, spec.secrets)
    for keyword in search_keywords(keys, organisation_code=spec.organisation_code):
        seen = 0
        page_num = 1
        while True:
            response = yield spec.request(keyword, page_num)
            page = spec.read(response, secrets)
            found.pages.append(page)
            for item in page.items:
                _sort(spec, found, item, page)
            seen += len(page.items)
            # Follow the agency's total, not our page size: it may cap pageSize lower.
            if not page.items or seen >= page.total:
                break
            if page_num >= spec.max_pages:
                if not found.records:
                    shown = keys.shown if keyword == keys.keyword else keyword
                    raise SourceRefused(
                        f"{page.total} listings match {shown}, more than "
                        f"max_pages × page_size = {spec.max_pages * spec.page_size} read "
                        "and none of those is an exact identifier match; "
                        "raise max_pages to read them all",
                        source=spec.source,
                    )
                break  # already listed: further pages cannot change the outcome
            page_num += 1
    return found


def _sort(spec: AgencySearch[PageT], found: Found[PageT], item: Item, page: PageT) -> None:
    match = found.keys.classify(spec.identifier(item))
    if match == "exact":
        record = spec.record(item)
        if record.record_id not in found.records:
            found.records[record.record_id] = record
            found.exact_items.append(item)
    elif match != "other":
        found.add_possible(spec.possible(item, match, page))
