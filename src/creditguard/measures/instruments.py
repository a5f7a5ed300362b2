"""The table of known legal instruments (``creditguard/data/instruments.toml``).

The level of a measure's legal basis, and whether the instrument was in
force on a list's date, come only from this table: never from a word in the
title (``《随便什么法》`` is not a law because its name ends in 法). Each
entry is one edition of one instrument; a title picks an edition by its
document number, by an edition word (``（2013年）``) or, when it names
neither, by the edition in force on the date asked about.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any, Final

from creditguard.errors import ConfigError

__all__ = [
    "JUDICIAL_INTERPRETATION",
    "LEVELS",
    "Instrument",
    "InstrumentTable",
    "instrument_name",
    "instruments",
    "normalise_title",
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


def _entry(raw: Mapping[str, Any], where: str) -> Instrument:
    try:
        level = raw["level"]
        if level not in LEVELS:
            raise ConfigError(f"{where}: unknown level {level!r}")
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
