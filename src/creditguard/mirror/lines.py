"""Import lines: one ``{"subject": {...}, "record": {...}}`` object per line, checked strictly.

A line is data an officer's decision will rest on, so nothing in it is
guessed: every field must be a known one (a misspelt ``expire_on`` would
otherwise leave a listing open-ended), extra data lives only under the
record's ``extensions`` object, every code (the subject's, the legal
representative's, ``via``) is validated and normalised with
:mod:`creditguard.codes`, dates are ``YYYY-MM-DD`` text, and a line nested
deeper than any real record is refused before it can exhaust the stack.
Each problem is an :class:`~creditguard.errors.InvalidRecordError` naming the
field; the caller adds the file and line.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final, NoReturn

from pydantic import ValidationError

from creditguard.codes import parse_code
from creditguard.errors import InvalidCodeError, InvalidRecordError
from creditguard.models import CreditRecord, RelatedPerson

__all__ = ["MAX_DEPTH", "MAX_LINE_BYTES", "ImportLine", "parse_line"]

#: Longest accepted line; a real line is well under 4 KiB.
MAX_LINE_BYTES: Final = 1 << 20
#: Deepest accepted nesting of a line (a record's own fields need 4 levels).
MAX_DEPTH: Final = 16

_LINE_KEYS: Final = ("subject", "record")
_SUBJECT_KEYS: Final = ("code", "kind", "name", "legal_representative")
_PERSON_KEYS: Final = ("code", "name")
_AUTHORITY_KEYS: Final = ("code", "name")
_HISTORY_KEYS: Final = ("status", "on")
_RECORD_KEYS: Final = (*CreditRecord.model_fields, "extensions")
_DATE_FIELDS: Final = ("listed_on", "expires_on", "rectify_by")
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class ImportLine:
    """One validated line: the subject's fields the line gives, and the record.

    ``name_given`` / ``rep_given`` say whether the line mentions the subject's
    name / legal representative at all: a link changes only when the file
    says so (``"legal_representative": null`` removes it).
    """

    code: str
    kind: str
    name: str | None
    name_given: bool
    rep: RelatedPerson | None
    rep_given: bool
    record: CreditRecord


def parse_line(text: str) -> ImportLine:
    """Validate one line of an import file; raise :class:`InvalidRecordError` naming the field."""
    obj = _loads(text)
    if isinstance(obj, dict):
        _known_keys(obj, _LINE_KEYS, "line")
    if not isinstance(obj, dict) or "subject" not in obj or "record" not in obj:
        raise InvalidRecordError('expected an object with "subject" and "record"')
    subj, rec = obj["subject"], obj["record"]
    if not isinstance(subj, dict) or "code" not in subj:
        raise InvalidRecordError('"subject" needs a "code"')
    if not isinstance(rec, dict):
        raise InvalidRecordError('"record" must be an object')
    _known_keys(subj, _SUBJECT_KEYS, "subject")
    code, kind = _code(subj["code"], "subject.code")
    given_kind = subj.get("kind", kind)
    if given_kind not in ("organization", "person"):
        raise InvalidRecordError('subject.kind: must be "organization" or "person"')
    if given_kind != kind:
        raise InvalidRecordError(f"subject.kind is {given_kind} but the code is a {kind}'s")
    name = subj.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidRecordError("subject.name: must be text or null")
    rep = _rep(subj, kind)
    return ImportLine(
        code=code,
        kind=kind,
        name=name,
        name_given="name" in subj,
        rep=rep,
        rep_given="legal_representative" in subj,
        record=record_from(rec, "record"),
    )


def record_from(rec: dict[str, Any], where: str) -> CreditRecord:
    """Validate a record object strictly (known fields, ISO dates, codes); ``where`` prefixes errors."""
    _known_keys(rec, _RECORD_KEYS, where)
    ext = rec.get("extensions")
    if ext is not None:
        if not isinstance(ext, dict):
            raise InvalidRecordError(f'{where}.extensions: must be an object ({{"name": value}})')
        # The only free-form part of a line: the typed fields refuse nested values themselves.
        if _depth_exceeds(ext, MAX_DEPTH - 2):
            raise InvalidRecordError(f"nested more than {MAX_DEPTH} levels deep")
    auth = rec.get("authority")
    if isinstance(auth, dict):
        _known_keys(auth, _AUTHORITY_KEYS, f"{where}.authority")
    for field in _DATE_FIELDS:
        _iso_date(rec.get(field), f"{where}.{field}")
    history = rec.get("status_history")
    if isinstance(history, list):
        for i, entry in enumerate(history):
            if isinstance(entry, dict):
                _known_keys(entry, _HISTORY_KEYS, f"{where}.status_history.{i}")
                _iso_date(entry.get("on"), f"{where}.status_history.{i}.on")
    if "public" in rec and not isinstance(rec["public"], bool):
        raise InvalidRecordError(f"{where}.public: must be true or false")
    data = dict(rec)
    if rec.get("via") is not None:
        data["via"], via_kind = _code(rec["via"], f"{where}.via")
        if via_kind != "organization":
            raise InvalidRecordError(f"{where}.via: must be an organisation's code")
    try:
        record = CreditRecord.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidRecordError(f"{where}.{loc}: {err['msg']}") from None
    if record.expires_on is not None and record.expires_on < record.listed_on:
        raise InvalidRecordError(f"{where}.expires_on is before {where}.listed_on")
    check_history(record, where)
    return record


def check_history(record: CreditRecord, where: str) -> None:
    """A ``status_history`` is oldest first and ends with the record's ``status`` (spec §4)."""
    hist = record.status_history
    if not hist:
        return
    if any(b.on < a.on for a, b in pairwise(hist)):
        raise InvalidRecordError(f"{where}.status_history: entries must be oldest first")
    if hist[-1].status != record.status:
        raise InvalidRecordError(
            f"{where}.status_history: the last entry ({hist[-1].status}) must equal "
            f"status ({record.status})"
        )


def iter_lines(chunks: Iterable[bytes]) -> Iterable[tuple[int, str | None, str | None]]:
    """``(line number, text, problem)`` for each non-blank line of ``chunks`` (see ``read_lines``)."""
    for lineno, raw in enumerate(chunks, start=1):
        if raw is _TOO_LONG:
            yield lineno, None, f"line longer than {MAX_LINE_BYTES // 1024} KiB"
            continue
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a byte-order mark (Notepad writes one) is not part of the data
        if not raw.strip():
            continue
        try:
            yield lineno, raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            yield lineno, None, f"not UTF-8 text ({exc.reason} at byte {exc.start + 1})"


_TOO_LONG: Final = b"\x00too long\x00"


def read_lines(fh: Any) -> Iterable[bytes]:
    """Lines of a binary file, one at a time; a line over the limit is yielded as a marker."""
    while True:
        raw: bytes = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                raw = fh.readline(MAX_LINE_BYTES)
            yield _TOO_LONG
            continue
        yield raw


# --- helpers -----------------------------------------------------------------------------


def _loads(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise InvalidRecordError(f"nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise InvalidRecordError(f"not JSON ({exc.msg} at column {exc.colno})") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise InvalidRecordError(f"field {_shown(dup)} appears twice in one object")
    return obj


def _no_constant(name: str) -> NoReturn:
    raise InvalidRecordError(f"{name} is not a JSON number")


# One decoder for every line (building one per call costs more than decoding a line).
_DECODER: Final = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def _depth_exceeds(obj: Any, limit: int) -> bool:
    # Iterative, so a deep value cannot exhaust the stack here either.
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))
    return False


def _known_keys(obj: dict[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in obj:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            extra = '; extra data goes under "extensions"' if "extensions" in allowed else ""
            raise InvalidRecordError(f"{where}: unknown field {_shown(key)}{hint}{extra}")


def _shown(key: str) -> str:
    return repr(key if len(key) <= 40 else key[:37] + "...")


def _code(value: Any, where: str) -> tuple[str, str]:
    if not isinstance(value, str):
        raise InvalidRecordError(f"{where}: must be text")
    try:
        sc = parse_code(value)
    except InvalidCodeError as exc:
        raise InvalidRecordError(f"{where}: {exc}") from None
    return sc.code, sc.kind


def _rep(subj: dict[str, Any], kind: str) -> RelatedPerson | None:
    rep = subj.get("legal_representative")
    if rep is None:
        return None
    if kind != "organization":
        raise InvalidRecordError("subject.legal_representative: only organisations have one")
    if not isinstance(rep, dict):
        raise InvalidRecordError(
            "subject.legal_representative: must be an object (code, name) or null"
        )
    _known_keys(rep, _PERSON_KEYS, "subject.legal_representative")
    name = rep.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidRecordError("subject.legal_representative.name: must be text or null")
    code = None
    if rep.get("code") is not None:
        code, rep_kind = _code(rep["code"], "subject.legal_representative.code")
        if rep_kind != "person":
            raise InvalidRecordError(
                "subject.legal_representative.code: must be a resident ID number"
            )
    return RelatedPerson(code=code, name=name)


def _iso_date(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise InvalidRecordError(f"{where}: must be a date written YYYY-MM-DD")
