"""Subject codes: unified social credit codes and resident identity numbers.

Every subject creditguard checks is identified by one of two codes:

* **Unified social credit code** (统一社会信用代码, GB 32100-2015) of an
  organisation: 18 characters from ``0123456789ABCDEFGHJKLMNPQRTUWXY`` —
  registration authority (1), organisation type (2), administrative division
  (3–8), the GB 11714 organisation code (9–17, with its own check character at
  17) and a mod-31 check character (18). Organisation codes are public and are
  shown in full.
* **Resident identity number** (公民身份号码, GB 11643-1999) of a person:
  6-digit address code, birth date ``YYYYMMDD``, 3-digit sequence (odd = male)
  and a mod-11 check character (digit or ``X``). Legacy 15-digit numbers are
  converted to 18. The first two digits are a province-level code of GB/T 2260,
  so the first digit is 1–8, never 9 (an 18-digit code starting with 9 is a
  USCC of market regulation). A person's number is personal information: its
  ``str`` and ``repr`` are masked (``320102********1234``), and error messages
  carry anything that could be a person's number (:func:`is_person_like`) only
  in masked form.

:func:`parse_code` normalises the text (:func:`normalize`), decides the kind,
validates it and returns a :class:`SubjectCode`, or raises
:class:`~creditguard.errors.InvalidCodeError` with a plain-English reason and
the 1-based position of the offending character. Results are cached, so
repeated codes cost well under two microseconds.

The standards' tables and check-character arithmetic live in
:mod:`creditguard._code_standards`; every public name is exported from here.
"""

from __future__ import annotations

import functools
import time as _time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple

from creditguard._code_standards import (
    _AUTHORITY_NAMES,
    _DEFAULT_TYPES,
    _DIGITS,
    _ID_CHECK_SET,
    _ID_RUN,
    _KNOWN_AUTHORITIES,
    _KNOWN_TYPES,
    _NORMALIZE_TABLE,
    _PROVINCE_FIRST,
    _TYPE_NAMES,
    _USCC_NEVER,
    _USCC_VALUE,
    CONVERTED_WARNING,
    USCC_CHARSET,
    _id_check,
    _org_check,
    _uscc_total,
    org_code_check_char,
    resident_id_check_char,
    uscc_check_char,
)
from creditguard.clock import CST
from creditguard.errors import InvalidCodeError
from creditguard.masking import mask_number

__all__ = [
    "CONVERTED_WARNING",
    "USCC_CHARSET",
    "SubjectCode",
    "is_person_like",
    "is_valid",
    "normalize",
    "org_code_check_char",
    "parse_code",
    "resident_id_check_char",
    "uscc_check_char",
]

Kind = Literal["organization", "person"]


# --- the result ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class SubjectCode:
    """A validated, normalised subject code.

    ``kind`` is ``"organization"`` (unified social credit code) or ``"person"``
    (resident ID number, always 18 characters). ``warnings`` holds doubts that
    did not reject the code (inner organisation code check, unknown
    authority/type pair, letters in the division) and the 15→18 conversion
    notice. Organisation-only
    properties are ``None`` for persons and vice versa. ``str()`` and ``repr()``
    never show a person's full number.
    """

    code: str
    kind: Kind
    warnings: tuple[str, ...] = ()

    @property
    def is_person(self) -> bool:
        """True for a resident ID number."""
        return self.kind == "person"

    @property
    def masked(self) -> str:
        """The code as it may be shown or logged: persons keep the first 6 and last 4."""
        if self.kind == "person":
            return mask_number(self.code)
        return self.code

    @property
    def converted_from_15(self) -> bool:
        """True when the number was given in the legacy 15-digit form."""
        return CONVERTED_WARNING in self.warnings

    @property
    def division(self) -> str:
        """Administrative division (GB/T 2260): positions 3–8, or a person's address code."""
        return self.code[:6] if self.kind == "person" else self.code[2:8]

    @property
    def authority(self) -> str | None:
        """Registration authority character (position 1) of an organisation."""
        return self.code[0] if self.kind == "organization" else None

    @property
    def authority_name(self) -> str | None:
        """Label of the registration authority, where known."""
        a = self.authority
        return None if a is None else _AUTHORITY_NAMES.get(a)

    @property
    def org_type(self) -> str | None:
        """Organisation type character (position 2) of an organisation."""
        return self.code[1] if self.kind == "organization" else None

    @property
    def type_name(self) -> str | None:
        """Label of the organisation type under its authority, where known."""
        if self.kind != "organization":
            return None
        name = _TYPE_NAMES.get((self.code[0], self.code[1]))
        if name is None and self.code[1] == "9":
            return "其他 other"
        return name

    @property
    def organization_code(self) -> str | None:
        """Embedded GB 11714 organisation code (positions 9–17) as ``XXXXXXXX-X``."""
        if self.kind != "organization":
            return None
        return f"{self.code[8:16]}-{self.code[16]}"

    @property
    def birth_date(self) -> date | None:
        """A person's birth date."""
        if self.kind != "person":
            return None
        c = self.code
        return date(int(c[6:10]), int(c[10:12]), int(c[12:14]))

    @property
    def sex(self) -> Literal["male", "female"] | None:
        """A person's sex from the sequence number (odd = male)."""
        if self.kind != "person":
            return None
        return "male" if int(self.code[16]) % 2 else "female"

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"SubjectCode(code={self.masked!r}, kind={self.kind!r}, warnings={self.warnings!r})"


# --- public helpers ------------------------------------------------------------


def normalize(text: str) -> str:
    """Normalise a code as typed or imported: drop spaces (incl. U+3000) and hyphens
    (ASCII and dash variants), full-width forms to ASCII, ASCII letters upper case.

    Idempotent. Characters that cannot occur in a code are kept, so that
    validation can name them.
    """
    if text.isascii() and text.isalnum() and (text.isupper() or text.isdigit()):
        return text  # already normal (the usual case): four C calls instead of a translation
    return text.translate(_NORMALIZE_TABLE)


def is_person_like(text: str) -> bool:
    """True when ``text`` is, or could be a mistyped, resident ID number: what must be masked.

    18 characters whose first 17 are digits and whose first digit is a
    province's (1–8), unless :func:`parse_code` reads it as a valid
    organisation code; or 15 digits starting 1–8 (the legacy form). Letters,
    a leading 9 and other lengths are not a person's number.
    """
    n = normalize(text)
    if len(n) == 15:
        return n[0] in _PROVINCE_FIRST and _DIGITS.issuperset(n)
    if len(n) != 18 or n[0] not in _PROVINCE_FIRST or not _DIGITS.issuperset(n[:17]):
        return False
    result = _parse_cached(n, False, _today())
    return not (type(result) is SubjectCode and result.kind == "organization")


def parse_code(text: str, *, strict: bool = False, today: date | None = None) -> SubjectCode:
    """Normalise and validate a subject code.

    Returns a :class:`SubjectCode`; raises
    :class:`~creditguard.errors.InvalidCodeError` (with ``reason``, ``position``
    and a ``shown`` form that masks anything person-like). ``strict`` turns
    validation warnings (inner organisation code, unknown authority/type pair,
    letters in the division) into errors; the 15→18 conversion notice stays
    a warning. ``today`` bounds birth dates (default: today in China Standard
    Time).

    An 18-character string whose first 17 characters are digits, whose first
    digit is a province's (1–8) and whose characters 7–14 look like a birth
    date is read as a resident ID number when its ID check passes and the
    date is real and not in the future, otherwise as a unified social credit
    code; when neither fits, the error is about the ID number. Whatever could
    be a person's number is shown masked in the error.
    """
    return _code_or_raise(
        _parse_normalized(normalize(text), strict, _today() if today is None else today)
    )


def parse_unmemoised(text: str, *, today: date) -> SubjectCode:
    """:func:`parse_code` (not strict) without its memo, for a caller that keeps its own.

    The engine remembers the codes it parsed; a second, process-wide memo of
    distinct codes (a re-screening of a million) would only churn, and keep
    the garbage collector walking its entries.
    """
    n = normalize(text)
    if len(n) in (15, 18):
        return _code_or_raise(_parse_fresh(n, False, today))
    return _code_or_raise(_parse_normalized(n, False, today))


def _code_or_raise(result: SubjectCode | _Failure) -> SubjectCode:
    if type(result) is SubjectCode:
        return result
    assert isinstance(result, _Failure)
    raise InvalidCodeError(result.reason, position=result.position, shown=result.shown)


def is_valid(text: str, *, strict: bool = False, today: date | None = None) -> bool:
    """True when :func:`parse_code` accepts ``text``."""
    result = _parse_normalized(normalize(text), strict, _today() if today is None else today)
    return type(result) is SubjectCode


# --- internals -----------------------------------------------------------------


class _Failure(NamedTuple):
    reason: str
    position: int | None
    shown: str


_today_cache: tuple[float, date] = (0.0, date.min)


def _today() -> date:
    """Today in China Standard Time (the engine's clock), re-read only after CST midnight."""
    global _today_cache
    expires, cached = _today_cache
    now = _time.time()
    if now < expires:
        return cached
    d = datetime.fromtimestamp(now, CST).date()
    midnight = datetime.combine(d + timedelta(days=1), datetime.min.time(), CST).timestamp()
    _today_cache = (midnight, d)
    return d


def _char(ch: str) -> str:
    return f"'{ch}'" if ch.isprintable() else f"U+{ord(ch):04X}"


def _birth_shape_plausible(n: str) -> bool:
    # 18xx-20xx, month 01-12, day 01-31: worth reporting as a (mistyped) ID number.
    return "18" <= n[6:8] <= "20" and "01" <= n[10:12] <= "12" and "01" <= n[12:14] <= "31"


def _person_shaped(n: str) -> bool:
    # Normalised, 18 characters: could be a person's number (then it is shown masked).
    return n[0] in _PROVINCE_FIRST and _DIGITS.issuperset(n[:17])


def _birth_problem(yyyymmdd: str, today: date, where: str) -> str | None:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return f"birth date ({where}) is not a real date"
    if born > today:
        return f"birth date ({where}) is in the future"
    return None


def _shown_unknown(n: str) -> str:
    # Input of the wrong length ("ID:3201…", a digit too many): mask every run of
    # ten or more digits, as it could be a mistyped or prefixed ID number.
    shown = _ID_RUN.sub(lambda m: mask_number(m.group()), n)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _parse_fresh(n: str, strict: bool, today: date) -> SubjectCode | _Failure:
    if len(n) == 18:
        if _person_shaped(n) and _birth_shape_plausible(n):
            return _parse_person18(n, strict, today)
        result = _parse_uscc(n, strict)
        if type(result) is _Failure and _person_shaped(n):
            # Not an organisation code, and it may be a mistyped ID number.
            return result._replace(shown=mask_number(n))
        return result
    return _parse_person15(n, today)


_parse_cached = functools.lru_cache(maxsize=65536)(_parse_fresh)


def _parse_normalized(n: str, strict: bool, today: date) -> SubjectCode | _Failure:
    if len(n) in (15, 18):
        return _parse_cached(n, strict, today)
    hint = ""
    if len(n) == 9:
        hint = "; a 9-character organisation code alone is not a subject code"
    return _Failure(
        "expected 18 characters (unified social credit code or resident ID number), "
        f"got {len(n)}{hint}",
        None,
        _shown_unknown(n),
    )


def _parse_uscc(n: str, strict: bool) -> SubjectCode | _Failure:
    try:
        total = _uscc_total(n)  # the first 17 characters' alphabet is checked on the way
    except KeyError:
        total = -1
    if total < 0 or n[17] not in _USCC_VALUE:
        for i, ch in enumerate(n):
            if ch not in _USCC_VALUE:
                if ch in _USCC_NEVER:
                    why = "(I, O, S, V, Z are never used)"
                else:
                    why = "(only digits and letters other than I, O, S, V, Z)"
                return _Failure(
                    f"character {_char(ch)} is not allowed in a unified social credit code {why}",
                    i + 1,
                    n,
                )
    expected = USCC_CHARSET[-total % 31]
    if n[17] != expected:
        hint = ""
        if n.isdigit() and n.endswith("000"):
            # A spreadsheet that read the code as a number keeps 15 significant digits.
            hint = " (trailing zeros: was it read as a number by a spreadsheet? keep codes as text)"
        return _Failure(f"check character should be '{expected}', found '{n[17]}'{hint}", 18, n)

    warnings: list[tuple[str, int]] = []
    for i in range(2, 8) if not _DIGITS.issuperset(n[2:8]) else ():
        if n[i] not in _DIGITS:
            warnings.append(
                (
                    f"administrative division (positions 3-8) should be digits, "
                    f"found '{n[i]}' at position {i + 1}",
                    i + 1,
                )
            )
            break
    authority, org_type = n[0], n[1]
    if authority not in _KNOWN_AUTHORITIES:
        warnings.append((f"unknown registration authority '{authority}'", 1))
    elif org_type not in _KNOWN_TYPES.get(authority, _DEFAULT_TYPES):
        warnings.append(
            (
                f"organisation type '{org_type}' is not a known type "
                f"for registration authority '{authority}'",
                2,
            )
        )
    org_expected = _org_check(n[8:16])
    if n[16] != org_expected:
        warnings.append(
            (
                f"organisation code check character (position 17) should be '{org_expected}', "
                f"found '{n[16]}' (GB 11714); the code may be mistyped",
                17,
            )
        )
    if strict and warnings:
        reason, position = min(warnings, key=lambda w: w[1])
        return _Failure(reason, position, n)
    return SubjectCode(n, "organization", tuple([w for w, _ in warnings]) if warnings else ())


def _parse_person18(n: str, strict: bool, today: date) -> SubjectCode | _Failure:
    last = n[17]
    expected = _id_check(n[:17])
    birth_problem = _birth_problem(n[6:14], today, "characters 7-14")
    if last == expected and birth_problem is None:
        return SubjectCode(n, "person")
    # Not a valid resident ID number: an all-digit organisation code may still fit.
    if all(ch in _USCC_VALUE for ch in n) and n[17] == USCC_CHARSET[-_uscc_total(n) % 31]:
        return _parse_uscc(n, strict)
    shown = mask_number(n)
    if last not in _ID_CHECK_SET:
        return _Failure(
            f"character {_char(last)} is not allowed as the check character "
            "of a resident ID number (a digit or X)",
            18,
            shown,
        )
    if birth_problem is not None:
        return _Failure(birth_problem, None, shown)
    return _Failure(f"check character should be '{expected}', found '{last}'", 18, shown)


def _parse_person15(n: str, today: date) -> SubjectCode | _Failure:
    shown = mask_number(n)
    for i, ch in enumerate(n):
        if ch not in _DIGITS:
            return _Failure(
                f"character {_char(ch)} is not allowed in a 15-digit resident ID number "
                "(digits only; 18 characters expected for other codes)",
                i + 1,
                shown,
            )
    if n[0] not in _PROVINCE_FIRST:
        return _Failure(
            "a 15-digit resident ID number starts with a province code (first digit 1-8)",
            1,
            shown,
        )
    problem = _birth_problem("19" + n[6:12], today, "characters 7-12")
    if problem is not None:
        return _Failure(problem, None, shown)
    first17 = n[:6] + "19" + n[6:]
    return SubjectCode(first17 + _id_check(first17), "person", (CONVERTED_WARNING,))
