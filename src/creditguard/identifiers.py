"""Does an identifier an agency returned belong to the subject we asked about?

A keyword search at a remote agency returns every listing it associates with
the keyword, including other subjects with similar names. Only an exact
identifier match may produce a record with effect (FACTS §2.1, §6):

- an organisation matches on its unified social credit code or the embedded
  GB 11714 organisation code (positions 9–17, with or without the hyphen:
  ``71092546-2``);
- a person matches on the full 18-character ID number, or its legacy
  15-digit form (which converts to exactly one 18-digit number).

Identifiers are compared after :func:`~creditguard.codes.normalize` (case,
full-width forms, spaces and hyphens). Everything else is classified so the
caller can decide what to show:

``exact``
    the identifier equals one of the subject's identifiers;
``masked``
    the identifier is partly hidden (``3201021980****1234``) and its visible
    characters agree with the subject: a possible match, never a record;
``name_only``
    the item carries no identifier: a possible match, never a record;
``other``
    a full identifier that differs, or a masked one whose visible
    characters differ: provably another subject, dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from creditguard.codes import normalize, parse_code
from creditguard.errors import InvalidCodeError
from creditguard.masking import mask_number

__all__ = ["Match", "SubjectKeys"]

Match = Literal["exact", "masked", "name_only", "other"]
"""How an agency's identifier relates to a subject; see the module docstring."""

# Characters agencies use to hide parts of a number, after normalisation (which
# turns the full-width asterisk into "*"). Not "X": it is an ID check character.
_MASK_CHARS: Final = frozenset("*×#")


@dataclass(frozen=True, slots=True)
class SubjectKeys:
    """The identifiers that count as an exact match for one subject code."""

    #: the code as the caller passed it (the key of an exchange's result)
    code: str
    #: ``None`` when the code does not parse (then only its exact text matches)
    kind: Literal["organization", "person"] | None
    #: the normalised full code: what is sent to the agency as the keyword
    keyword: str
    #: every normalised text that is an exact match
    exact: frozenset[str]
    #: the code as it may appear in messages (persons masked)
    shown: str

    @classmethod
    def of(cls, code: str) -> SubjectKeys:
        """Keys of ``code`` (a USCC or resident ID number, as the guard passes it)."""
        try:
            parsed = parse_code(code)
        except InvalidCodeError:
            # The guard validates codes before lookup; if one slips through,
            # still match only on the exact text, and never show it whole.
            text = normalize(code)
            # mask_number hides short texts entirely: an unparsed code may be a
            # truncated ID number, and 6 + 4 visible characters would be most of it.
            return cls(code, None, text, frozenset({text}), mask_number(text))
        full = parsed.code
        if parsed.kind == "organization":
            return cls(code, "organization", full, frozenset({full, full[8:17]}), full)
        keys = {full}
        if full[6:8] == "19":  # only 20th-century births had a 15-digit form
            keys.add(full[:6] + full[8:17])
        return cls(code, "person", full, frozenset(keys), parsed.masked)

    def classify(self, identifier: object) -> Match:
        """How ``identifier`` (as the agency returned it: text, number or absent) relates."""
        if not isinstance(identifier, str | int):
            return "name_only"
        text = normalize(str(identifier))
        if not text:
            return "name_only"
        if text in self.exact:
            return "exact"
        if not any(ch in _MASK_CHARS for ch in text):
            return "other"
        comparable = [key for key in self.exact if len(key) == len(text)]
        if not comparable:  # cannot line the characters up: leave it to a person
            return "masked"
        if any(_visible_agree(text, key) for key in comparable):
            return "masked"
        return "other"


def _visible_agree(masked: str, key: str) -> bool:
    return all(m in _MASK_CHARS or m == k for m, k in zip(masked, key, strict=True))
