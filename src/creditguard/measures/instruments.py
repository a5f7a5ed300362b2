"""The table of known legal instruments (``creditguard/data/instruments.toml``).

The level of a measure's legal basis, and whether the instrument was in
force on a list's date, come only from this table: never from a word in the
title (``《随便什么法》`` is not a law because its name ends in 法). Each
entry is one edition of one instrument; a title picks an edition by its
document number, by an edition word (``（2013年）``) or, when it names
neither, by the edition in force on the date asked about.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from creditguard.errors import ConfigError
from creditguard.models import EFFECT_RANK

__all__ = [
    "JUDICIAL_INTERPRETATION",
    "LEVELS",
    "MARKS",
    "ArticleFact",
    "ArticleKey",
    "Carrier",
    "Instrument",
    "InstrumentTable",
    "article_keys",
    "cited_articles",
    "instrument_name",
    "instruments",
    "load_files",
    "load_table",
    "merge_tables",
    "normalise_title",
    "show_article",
]

#: Judicial interpretations (司法解释) bind courts; spec §5.1 has no level for
#: them, so a file cannot write it, but the table knows which instruments are one.
JUDICIAL_INTERPRETATION: Final = "judicial_interpretation"

#: Every level the table may hold (spec §5.1's, plus judicial interpretations).
LEVELS: Final[tuple[str, ...]] = (
    "law",
    "administrative_regulation",
    "local_regulation",
    "departmental_rule",
    "local_rule",
    "normative_document",
    "policy_document",
    JUDICIAL_INTERPRETATION,
)

_BRACKETED = re.compile(r"《([^》]+)》")
_TRAILING_NOTE = re.compile(r"[（(][^（）()]*[）)]$")
_SPACES = re.compile(r"\s+")
_UNIFY = str.maketrans({"(": "（", ")": "）", "[": "〔", "]": "〕", "［": "〔", "］": "〕"})


def normalise_title(text: str) -> str:
    """Spaces removed, brackets and parentheses unified (half- and full-width)."""
    return _SPACES.sub("", text).translate(_UNIFY)


def instrument_name(title: str) -> str:
    """The instrument's name: the first ``《…》`` in ``title``, else the whole title trimmed."""
    m = _BRACKETED.search(title)
    return (m.group(1) if m else title).strip()


#: How a fact about an article was established (FACTS.md marks).
MARKS: Final[tuple[str, ...]] = ("checked", "reported", "open")

#: An article as cited: ``("条", 22)`` for 第二十二条, ``("part", 2)`` for a policy
#: document's part 二 (or （二）), ``("whole", 0)`` for a document cited as a whole.
ArticleKey = tuple[str, int]

WHOLE: Final[ArticleKey] = ("whole", 0)

_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMERAL = r"[0-9零〇一二两三四五六七八九十百千]+"
_ARTICLE = re.compile(rf"第({_NUMERAL})条")
_PART = re.compile(rf"^(?:第)?[（(]?({_NUMERAL})[)）]?(?:部分|、)?$")


def _number(text: str) -> int | None:
    """``二十二`` → 22, ``22`` → 22, ``一百零八`` → 108; ``None`` when not a numeral."""
    if text.isdigit():
        return int(text)
    total, digit = 0, 0
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            total += (digit or 1) * _UNITS[ch]
            digit = 0
        else:
            return None
    return total + digit


def article_keys(text: str) -> tuple[ArticleKey, ...]:
    """The articles ``text`` cites: ``第二十二条、第七十七条`` → ``(("条", 22), ("条", 77))``.

    Paragraphs and items (第一款第（五）项) are not told apart: the article is
    what the table knows. A bare numeral (``二``, ``（二）``) is a part of a
    policy document. Text that names no article gives nothing.
    """
    text = normalise_title(text)
    found = [n for m in _ARTICLE.finditer(text) if (n := _number(m.group(1))) is not None]
    if found:
        return tuple(("条", n) for n in dict.fromkeys(found))
    m = _PART.match(text)
    if m and (n := _number(m.group(1))) is not None:
        return (("part", n),)
    return ()


def cited_articles(title: str, article: str) -> tuple[ArticleKey, ...]:
    """The articles a basis cites, from its ``article`` and from its title after ``》``.

    The string form of spec §5.1 keeps the whole citation in the title
    (``《中华人民共和国政府采购法》第二十二条``).
    """
    after = title.rsplit("》", 1)[1] if "》" in title else ""
    keys = (*article_keys(article), *article_keys(after))
    return tuple(dict.fromkeys(keys))


def show_article(key: ArticleKey) -> str:
    """``("条", 22)`` → ``第22条``; a part → ``part 2``; the whole document → ``(whole)``."""
    kind, n = key
    return f"第{n}条" if kind == "条" else (f"part {n}" if kind == "part" else "(whole)")


@dataclass(frozen=True, slots=True)
class Carrier:
    """One measure an article carries: its effects, for which records, at which steps.

    A field left empty in the data (``None``) does not narrow; ``list_kinds = []``
    means the article's targets are not on any list (政府采购法 Art 22: 重大违法记录).
    """

    effects: frozenset[str]
    list_kinds: frozenset[str] | None = None
    domains: frozenset[str] | None = None
    steps: tuple[str, ...] | None = None

    def describe(self) -> str:
        """``deny for blacklist records of procurement at procurement.*`` (for messages)."""
        out = "/".join(sorted(self.effects, key=EFFECT_RANK.__getitem__))
        if self.list_kinds is not None:
            out += (
                " for " + "/".join(sorted(self.list_kinds)) + " records"
                if self.list_kinds
                else " for records on no list"
            )
        if self.domains is not None:
            out += " of " + "/".join(sorted(self.domains))
        if self.steps is not None:
            out += " at " + ", ".join(self.steps)
        return out


@dataclass(frozen=True, slots=True)
class ArticleFact:
    """What the table knows one article (or a whole document) says.

    ``carries`` empty: the article is known to carry no measure itself (a
    definition, a notification, a duty to query).
    """

    key: ArticleKey
    carries: tuple[Carrier, ...]
    targets: str = ""
    mark: str = "reported"
    source: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Instrument:
    """One edition of a legal instrument, as the table knows it."""

    name: str
    level: str
    in_force_from: date
    in_force_to: date | None = None
    doc_no: str = ""
    edition: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    issuer: str = ""
    mark: str = "reported"
    note: str = ""
    #: what the table knows of single articles; an article not here is of unknown content
    articles: Mapping[ArticleKey, ArticleFact] = field(default_factory=dict)
    #: how many articles (条) the edition has, when known: a higher one does not exist
    article_count: int | None = None

    def in_force(self, on: date) -> bool:
        """True when this edition was in force on ``on``."""
        return self.in_force_from <= on and (self.in_force_to is None or on <= self.in_force_to)

    @property
    def cited(self) -> str:
        """``《name》（doc_no）`` — how a reviewer recognises the edition."""
        return f"《{self.name}》" + (f"（{self.doc_no}）" if self.doc_no else "")


class InstrumentTable:
    """Known instruments, looked up by the title a legal basis cites."""

    def __init__(self, entries: Iterable[Instrument], *, source: str = "") -> None:
        self.entries = tuple(entries)
        self.source = source
        self._by_name: dict[str, list[Instrument]] = {}
        for e in self.entries:
            for n in (e.name, *e.aliases):
                self._by_name.setdefault(normalise_title(n), []).append(e)
        for editions in self._by_name.values():
            editions.sort(key=lambda e: e.in_force_from)

    def lookup(self, title: str, on: date | None = None) -> Instrument | None:
        """The edition ``title`` cites, or ``None`` when the table does not know it.

        A document number in the title picks its edition; an edition word
        (``2013``) outside the name picks that one; otherwise the edition in
        force on ``on`` (else the latest) is meant.
        """
        text = normalise_title(title)
        for e in self.entries:
            if e.doc_no and normalise_title(e.doc_no) in text:
                return e
        name = normalise_title(instrument_name(title))
        editions = self._by_name.get(name)
        if editions is None:
            # "《…条例》（2019年修订）" written inside the brackets
            editions = self._by_name.get(_TRAILING_NOTE.sub("", name))
        if not editions:
            return None
        rest = text.replace(name, "", 1)
        picked = [e for e in editions if any(word in rest for word in e.edition)]
        if picked:
            return picked[0]
        if on is not None:
            for e in editions:
                if e.in_force(on):
                    return e
        return editions[-1]


_LIST_KINDS: Final = frozenset({"blacklist", "focus"})


def _words(raw: Any, where: str, allowed: frozenset[str] | None = None) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(w, str) and w for w in raw):
        raise ConfigError(f"{where}: expected an array of words")
    bad = sorted(set(raw) - allowed) if allowed is not None else []
    if bad:
        raise ConfigError(f"{where}: unknown {', '.join(map(repr, bad))}")
    return tuple(raw)


def _carrier(raw: Any, where: str) -> Carrier:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table")
    extra = sorted(set(raw) - {"effects", "list_kinds", "domains", "steps"})
    if extra:
        raise ConfigError(f"{where}: unknown field {extra[0]!r}")
    if "effects" not in raw or not raw["effects"]:
        raise ConfigError(f"{where}: give the effects the article carries")

    def opt(key: str, allowed: frozenset[str] | None = None) -> frozenset[str] | None:
        return frozenset(_words(raw[key], f"{where}.{key}", allowed)) if key in raw else None

    return Carrier(
        effects=frozenset(_words(raw["effects"], f"{where}.effects", frozenset(EFFECT_RANK))),
        list_kinds=opt("list_kinds", _LIST_KINDS),
        domains=opt("domains"),
        steps=_words(raw["steps"], f"{where}.steps") if "steps" in raw else None,
    )


def _article(raw: Any, where: str) -> ArticleFact:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table")
    extra = sorted(set(raw) - {"article", "carries", "targets", "mark", "source", "note"})
    if extra:
        raise ConfigError(f"{where}: unknown field {extra[0]!r}")
    text = raw.get("article")
    if not isinstance(text, str):
        raise ConfigError(f"{where}: missing article")
    keys = (WHOLE,) if text == "*" else article_keys(text)
    if len(keys) != 1:
        raise ConfigError(f"{where}: {text!r} must name exactly one article (or * for the whole)")
    mark = raw.get("mark")
    if mark not in MARKS:
        raise ConfigError(f"{where}: mark must be one of {', '.join(MARKS)}")
    if not str(raw.get("source", "")).strip():
        raise ConfigError(f"{where}: give the source of what the article says")
    carries = raw.get("carries")
    if not isinstance(carries, list):
        raise ConfigError(f"{where}: carries must be an array ([] when it carries no measure)")
    return ArticleFact(
        key=keys[0],
        carries=tuple(_carrier(c, f"{where}.carries[{i}]") for i, c in enumerate(carries)),
        targets=str(raw.get("targets", "")),
        mark=mark,
        source=str(raw["source"]),
        note=str(raw.get("note", "")),
    )


def _articles(raw: Mapping[str, Any], where: str) -> dict[ArticleKey, ArticleFact]:
    items = raw.get("articles", [])
    if not isinstance(items, list):
        raise ConfigError(f"{where}: articles must be an array of tables")
    out: dict[ArticleKey, ArticleFact] = {}
    for i, item in enumerate(items):
        fact = _article(item, f"{where} article #{i + 1}")
        if fact.key in out:
            raise ConfigError(f"{where}: {show_article(fact.key)} is described twice")
        out[fact.key] = fact
    count = raw.get("article_count")
    for key in out:
        if isinstance(count, int) and key[0] == "条" and not 1 <= key[1] <= count:
            raise ConfigError(f"{where}: {show_article(key)} is beyond article_count {count}")
    return out


def _same_edition(a: Instrument, b: Instrument) -> bool:
    return (
        normalise_title(a.name) == normalise_title(b.name)
        and normalise_title(a.doc_no) == normalise_title(b.doc_no)
        and (a.doc_no != "" or a.in_force_from == b.in_force_from)
    )


def merge_tables(base: InstrumentTable, extra: InstrumentTable) -> InstrumentTable:
    """``base`` with an agency's own entries added (``[measures] instruments``).

    An agency may add instruments, and articles to an edition ``base`` knows;
    it may not contradict ``base`` (another level or dates for the same edition,
    another content for an article ``base`` describes): that is a
    :class:`ConfigError`, because the shipped facts are reviewed against their
    sources and a local file must not quietly make an article carry more.
    """
    entries = list(base.entries)
    for e in extra.entries:
        i = next((k for k, b in enumerate(entries) if _same_edition(b, e)), None)
        if i is None:
            entries.append(e)
            continue
        b = entries[i]
        where = f"{extra.source}: {e.cited}"
        if (b.level, b.in_force_from, b.in_force_to) != (e.level, e.in_force_from, e.in_force_to):
            raise ConfigError(
                f"{where}: level or dates differ from the shipped table's "
                f"({b.level}, in force {b.in_force_from} … {b.in_force_to or ''})"
            )
        if b.article_count and e.article_count and b.article_count != e.article_count:
            raise ConfigError(f"{where}: article_count differs from the shipped table's")
        clash = sorted(set(b.articles) & set(e.articles))
        if clash:
            raise ConfigError(
                f"{where}: {show_article(clash[0])} is already described by the shipped table"
            )
        entries[i] = dataclasses.replace(
            b,
            articles={**b.articles, **e.articles},
            article_count=b.article_count or e.article_count,
        )
    return InstrumentTable(entries, source=f"{base.source}; {extra.source}")


def load_files(paths: Iterable[str | os.PathLike[str]]) -> InstrumentTable:
    """The shipped table with each of ``paths`` (same format) merged in, in order."""
    table = instruments()
    for path in paths:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: cannot read the instruments file: {exc}") from None
        try:
            extra = load_table(text, name=str(p))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from None
        table = merge_tables(table, InstrumentTable(extra.entries, source=str(p)))
    return table


def _entry(raw: Mapping[str, Any], where: str) -> Instrument:
    try:
        level = raw["level"]
        if level not in LEVELS:
            raise ConfigError(f"{where}: unknown level {level!r}")
        count = raw.get("article_count")
        if count is not None and (
            not isinstance(count, int) or isinstance(count, bool) or count < 1
        ):
            raise ConfigError(f"{where}: article_count must be a positive whole number")
        return Instrument(
            name=str(raw["name"]),
            level=level,
            in_force_from=raw["in_force_from"],
            in_force_to=raw.get("in_force_to"),
            doc_no=str(raw.get("doc_no", "")),
            edition=tuple(raw.get("edition", ())),
            aliases=tuple(raw.get("aliases", ())),
            issuer=str(raw.get("issuer", "")),
            mark=str(raw.get("mark", "reported")),
            note=str(raw.get("note", "")),
            articles=_articles(raw, where),
            article_count=count,
        )
    except KeyError as exc:
        raise ConfigError(f"{where}: missing {exc.args[0]}") from None


def load_table(text: str, *, name: str) -> InstrumentTable:
    """Parse an instruments file (the shipped one's format)."""
    data = tomllib.loads(text)
    entries = [
        _entry(raw, f"{name} instrument #{i + 1}")
        for i, raw in enumerate(data.get("instruments", []))
    ]
    return InstrumentTable(entries, source=str(data.get("meta", {}).get("source", name)))


@cache
def instruments() -> InstrumentTable:
    """The shipped table (read once)."""
    text = resources.files("creditguard").joinpath("data/instruments.toml").read_text("utf-8")
    return load_table(text, name="creditguard/data/instruments.toml")
