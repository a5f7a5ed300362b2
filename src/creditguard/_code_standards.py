"""What the code standards define: character sets, weights, check characters, authorities, types.

GB 32100-2015 (unified social credit code), GB 11643-1999 (resident identity
number) and GB 11714 (organisation code), as tables and arithmetic; also the
table that normalises a typed code. No parsing here: :mod:`creditguard.codes`
reads a code with these and re-exports the public names
(:data:`USCC_CHARSET`, :data:`CONVERTED_WARNING` and the ``*_check_char``
functions), which are used from there.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "CONVERTED_WARNING",
    "USCC_CHARSET",
    "org_code_check_char",
    "resident_id_check_char",
    "uscc_check_char",
]

USCC_CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of a unified social credit code, in value order 0–30."""

CONVERTED_WARNING: Final = (
    "converted from a 15-digit resident ID number "
    "('19' inserted before the birth year, check character computed)"
)
"""Warning attached to a resident ID number that was given in the legacy 15-digit form."""

# --- lookup tables -----------------------------------------------------------

_USCC_VALUE: Final[dict[str, int]] = {ch: i for i, ch in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS: Final[tuple[int, ...]] = tuple(pow(3, i, 31) for i in range(17))
_USCC_NEVER: Final = frozenset("IOSVZ")

_ID_WEIGHTS: Final[tuple[int, ...]] = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK: Final = "10X98765432"
_ID_CHECK_SET: Final = frozenset("0123456789X")

_ORG_WEIGHTS: Final[tuple[int, ...]] = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_VALUE: Final[dict[str, int]] = {
    **{str(d): d for d in range(10)},
    **{chr(c): c - 55 for c in range(ord("A"), ord("Z") + 1)},
}

_DIGITS: Final = frozenset("0123456789")
# First digit of a GB/T 2260 province-level code (11–15 … 61–65, 81–83): never 0 or 9.
_PROVINCE_FIRST: Final = frozenset("12345678")
_ID_RUN: Final = re.compile(r"\d{10,}[Xx]?")


def _build_normalize_table() -> dict[int, int | None]:
    table: dict[int, int | None] = {}
    for c in range(ord("a"), ord("z") + 1):
        table[c] = c - 32
    for c in range(0xFF01, 0xFF5F):  # full-width forms -> ASCII (letters upper-cased)
        ascii_c = c - 0xFEE0
        table[c] = ascii_c - 32 if ord("a") <= ascii_c <= ord("z") else ascii_c
    spaces = " \t\n\r\v\f\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
    spaces += "".join(chr(c) for c in range(0x2000, 0x200C))
    hyphens = "-\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
    for ch in spaces + hyphens:
        table[ord(ch)] = None
    return table


_NORMALIZE_TABLE: Final = _build_normalize_table()

# Registration authority (position 1) and organisation type (position 2).
_AUTHORITY_NAMES: Final[dict[str, str]] = {
    "1": "机构编制 establishment administration",
    "3": "司法行政 justice administration",
    "5": "民政 civil affairs",
    "9": "工商/市场监管 market regulation",
    "A": "中央军委改革和编制办公室 military reform and establishment office",
    "N": "农业 agriculture (rural collective economic organisations)",
    "Y": "其他 other",
}
_KNOWN_AUTHORITIES: Final = frozenset("123456789ANY")
_DEFAULT_TYPES: Final = frozenset("19")
_KNOWN_TYPES: Final[dict[str, frozenset[str]]] = {
    "1": frozenset("1239"),
    "3": frozenset("12345"),
    "5": frozenset("123"),
    "9": frozenset("123"),
    "N": frozenset("123"),
}
_TYPE_NAMES: Final[dict[tuple[str, str], str]] = {
    ("1", "1"): "机关 government body",
    ("1", "2"): "事业单位 public institution",
    ("1", "3"): "群众团体 mass organisation",
    ("3", "1"): "律师执业机构 law firm",
    ("3", "2"): "公证处 notary office",
    ("3", "3"): "基层法律服务所 grassroots legal service office",
    ("3", "4"): "司法鉴定机构 forensic appraisal institution",
    ("3", "5"): "仲裁委员会 arbitration commission",
    ("5", "1"): "社会团体 social organisation",
    ("5", "2"): "民办非企业单位 private non-enterprise unit",
    ("5", "3"): "基金会 foundation",
    ("9", "1"): "企业 enterprise",
    ("9", "2"): "个体工商户 individual business",
    ("9", "3"): "农民专业合作社 farmers' cooperative",
    ("N", "1"): "组级集体经济组织 group-level collective economic organisation",
    ("N", "2"): "村级集体经济组织 village-level collective economic organisation",
    ("N", "3"): "乡镇级集体经济组织 township-level collective economic organisation",
}


# --- check characters ----------------------------------------------------------------


def uscc_check_char(first17: str) -> str:
    """Check character (position 18) of a unified social credit code.

    ``first17`` is the first 17 characters, upper case, from :data:`USCC_CHARSET`;
    raises :class:`ValueError` otherwise.
    """
    if len(first17) != 17:
        raise ValueError(f"expected 17 characters, got {len(first17)}")
    try:
        total = sum(_USCC_VALUE[ch] * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not allowed in a USCC") from None
    return USCC_CHARSET[-total % 31]


def resident_id_check_char(first17: str) -> str:
    """Check character (position 18, a digit or ``X``) of a resident ID number.

    ``first17`` is the first 17 digits; raises :class:`ValueError` otherwise.
    """
    if len(first17) != 17 or not _DIGITS.issuperset(first17):
        raise ValueError("expected 17 digits")
    return _id_check(first17)


def org_code_check_char(first8: str) -> str:
    """Check character (digit or ``X``) of a GB 11714 organisation code.

    ``first8`` is the 8-character body (digits and upper-case letters); raises
    :class:`ValueError` otherwise.
    """
    if len(first8) != 8:
        raise ValueError(f"expected 8 characters, got {len(first8)}")
    try:
        return _org_check(first8)
    except KeyError as exc:
        raise ValueError(
            f"character {exc.args[0]!r} is not allowed in an organisation code"
        ) from None


def _id_check(first17: str) -> str:
    total = 0
    for ch, w in zip(first17, _ID_WEIGHTS, strict=True):
        total += (ord(ch) - 48) * w
    return _ID_CHECK[total % 11]


# Per position, each character's value times its weight: a checksum is one map() of
# dict lookups in C (a distinct code is parsed on every check of a clean subject).
_USCC_WEIGHTED: Final = tuple({ch: v * w for ch, v in _USCC_VALUE.items()} for w in _USCC_WEIGHTS)
_ORG_WEIGHTED: Final = tuple({ch: v * w for ch, v in _ORG_VALUE.items()} for w in _ORG_WEIGHTS)


def _org_check(body: str) -> str:
    total = sum(map(dict.__getitem__, _ORG_WEIGHTED, body))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _uscc_total(n: str) -> int:
    # map() stops at the shorter: the weights cover the first 17 characters. KeyError: a
    # character outside the code's alphabet.
    return sum(map(dict.__getitem__, _USCC_WEIGHTED, n))
