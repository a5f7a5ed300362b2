"""Masking of personal data before it reaches logs, journals or screens."""

from __future__ import annotations

import re

__all__ = ["mask_code", "mask_name", "mask_text"]

# Anything shaped like a resident ID number (18 or 15 characters), standing alone.
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")


def mask_code(code: str, kind: str | None = None) -> str:
    """Mask a resident ID number (keep first 6 and last 4); organization codes stay whole.

    A unified social credit code identifies an organization and is public.
    With ``kind`` known, persons are masked and organizations are not; without
    it, anything that looks like a person's number is masked.
    """
    if kind == "organization":
        return code
    if kind == "person" and len(code) >= 10:
        return code[:6] + "*" * (len(code) - 10) + code[-4:]
    if len(code) == 18 and code[:17].isdigit() and not _looks_like_uscc(code):
        return code[:6] + "*" * 8 + code[-4:]
    if len(code) == 15 and code.isdigit():
        return code[:6] + "*" * 5 + code[-4:]
    return code


def _looks_like_uscc(code: str) -> bool:
    # USCCs start with a registration-authority character and an organisation
    # type; resident IDs start with a province code 11..82. An all-digit code
    # beginning 1..9 then 1..9 is ambiguous, so look at the birth-date part.
    year, month, day = code[6:10], code[10:12], code[12:14]
    plausible_birth = ("18" <= year[:2] <= "20") and "01" <= month <= "12" and "01" <= day <= "31"
    return not plausible_birth


def mask_name(name: str | None) -> str | None:
    """Mask a person's name for display: keep the family name (张三 → 张*)."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def mask_text(text: str) -> str:
    """``text`` (an error message, a remote body excerpt) with ID-number-shaped strings masked."""
    return _ID_LIKE.sub(lambda m: mask_code(m.group()), text)
