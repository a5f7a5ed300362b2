"""Masking of personal data before it reaches logs, journals, reprs or screens.

A resident ID number is personal information (FACTS §2.2): it is shown with
its first 6 and last 4 characters only (``320102********1234``). Unified
social credit codes identify organisations and are public, so they stay whole.
What counts as "could be a person's number" is decided in one place,
:func:`creditguard.codes.is_person_like`, so that masking and parsing agree.

The same masking protects creditguard's loggers (and httpx's request log, which
carries URLs): :func:`install_log_masking` attaches a :class:`MaskingFilter`
to them when :mod:`creditguard` is imported.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "LOGGERS_MASKED",
    "MaskingFilter",
    "install_log_masking",
    "mask_code",
    "mask_data",
    "mask_decision_data",
    "mask_name",
    "mask_number",
    "mask_text",
    "masked_repr_args",
    "unmasked_numbers",
]

# Anything shaped like a resident ID number (18 or 15 characters), standing alone.
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_LONG_DIGITS = re.compile(r"\d{10,}[Xx]?")
#: No string shorter than the legacy 15-digit number can hold one.
_SHORTEST_ID = 15

LOGGERS_MASKED: tuple[str, ...] = (
    "creditguard",
    "creditguard.case_desk",
    "creditguard.cases",
    "creditguard.journal",
    "creditguard.measures",
    "creditguard.mirror",
    "creditguard.outbox",
    "creditguard.plugins",
    "creditguard.push_feed",
    "creditguard.server",
    "creditguard.sources",
    "creditguard.webhook",
    # httpx logs every request line ("HTTP Request: GET <url> ...") at INFO.
    "httpx",
)
"""Loggers whose records pass through :class:`MaskingFilter`.

A filter on a logger does not see records of its child loggers, so every
logger creditguard names is listed (a test compares this with the source)."""


def mask_number(text: str) -> str:
    """Keep the first 6 and last 4 characters of ``text``; hide short texts entirely.

    The one masking rule for a person's number (and for anything that may be
    a mistyped one): 10 characters or fewer would show most of it, so they are
    all hidden.
    """
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def mask_code(code: str, kind: str | None = None) -> str:
    """Mask a resident ID number (keep first 6 and last 4); organization codes stay whole.

    A unified social credit code identifies an organization and is public.
    With ``kind`` known, persons are masked and organizations are not; without
    it, anything that could be a person's number
    (:func:`creditguard.codes.is_person_like`) is masked.
    """
    if kind == "organization":
        return code
    if kind == "person":
        return mask_number(code)
    from creditguard.codes import is_person_like, is_valid

    if is_person_like(code):
        return mask_number(code)
    code_shaped = len(code) == 18 and code.isascii() and code.isalnum()
    if not code_shaped and _LONG_DIGITS.search(code) and not is_valid(code):
        # Not code-shaped ("ID:3201…", a digit missing): a long digit run may be most of a
        # number. 18 characters are classified above: a 9-led code is never a person's.
        return _LONG_DIGITS.sub(lambda m: mask_number(m.group()), code)
    return code


def mask_name(name: str | None) -> str | None:
    """Mask a person's name for display: keep the family name (张三 → 张*)."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def mask_text(text: str) -> str:
    """``text`` (an error message, a log line, a URL) with ID-number-shaped strings masked.

    Organisation codes that are valid as such stay readable.
    """
    if _ID_LIKE.search(text) is None:  # the common case, in C
        return text
    return _ID_LIKE.sub(_mask_match, text)


def _mask_match(m: re.Match[str]) -> str:
    return mask_code(m.group())


def unmasked_numbers(text: str) -> list[str]:
    """The resident-ID-number-shaped strings in ``text`` that :func:`mask_text` would mask.

    For tests and audits: an empty list means ``text`` shows no person's number whole.
    """
    return [m.group() for m in _ID_LIKE.finditer(text) if mask_code(m.group()) != m.group()]


def mask_data(value: Any) -> Any:
    """A copy of JSON-like ``value`` (dicts, lists, strings) with ID numbers masked in every string."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_item(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_item(v) for v in value]
    return value


def _mask_item(value: Any) -> Any:
    # A decision's data is mostly short strings, numbers and None: those are settled
    # here without a call (a journaled decision has a hundred of them).
    t = type(value)
    if t is str:
        return value if len(value) < _SHORTEST_ID else mask_text(value)
    if t is int or t is bool or t is float or value is None:
        return value
    return mask_data(value)


def mask_decision_data(data: dict[str, Any]) -> dict[str, Any]:
    """A decision as JSON (``Decision.model_dump(mode="json")``) fit for default output.

    The subject's code is masked by its kind, every other ID-number-shaped
    string (a related person, a possible match, a record's extra field) by its
    shape, and a person's name keeps only the family name.
    """
    kind = data.get("subject_kind")
    out: dict[str, Any] = mask_data(data)
    if isinstance(data.get("subject_code"), str):
        out["subject_code"] = mask_code(data["subject_code"], kind)
    if kind == "person":
        out["subject_name"] = mask_name(out.get("subject_name"))
        for pm in out.get("possible_matches") or []:
            if isinstance(pm, dict):
                pm["name"] = mask_name(pm.get("name"))
    return out


def masked_repr_args(
    model: Any, args: Iterable[tuple[str | None, Any]]
) -> Iterator[tuple[str | None, Any]]:
    """Pydantic ``__repr_args__`` with personal data masked (reprs end up in logs and tracebacks)."""
    person = getattr(model, "subject_kind", None) == "person"
    for name, value in args:
        if isinstance(value, str):
            value = mask_name(value) if person and name == "subject_name" else mask_text(value)
        elif isinstance(value, dict):
            value = mask_data(value)
        yield name, value


class MaskingFilter(logging.Filter):
    """Masks ID-number-shaped strings in a record's message (and its traceback text).

    Records without such strings pass untouched (their ``args`` kept), so
    nothing else is hidden. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


_FILTER = MaskingFilter()


def install_log_masking(names: Iterable[str] = LOGGERS_MASKED) -> None:
    """Attach the masking filter to the named loggers (idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
