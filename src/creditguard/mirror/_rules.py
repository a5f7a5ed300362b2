"""The mirror's rules, whatever stores it: one place for SQLite and PostgreSQL alike.

Both stores (:class:`~creditguard.mirror.SqliteMirror`,
:class:`~creditguard.mirror.PostgresMirror`) keep their own SQL and
connections and call these for everything that does not depend on the
store: when a mirror still vouches for its data, how a pushed record is
normalised and merged with the held one (status history, tombstones, a
record id that never moves between subjects), how a legal representative's
organisation records read for the person, and what the counts report.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal

from creditguard.clock import CST, today_cst
from creditguard.codes import parse_code
from creditguard.errors import InvalidCodeError, InvalidRecordError, SourceUnavailable
from creditguard.mirror.importer import conflict_text
from creditguard.mirror.lines import check_history, iter_lines, read_lines
from creditguard.models import CreditRecord, StatusChange, Subject

#: Default ``max_age_s``: a mirror not imported or synced for a day no longer vouches for its data.
DEFAULT_MAX_AGE_S: Final = 86400.0
#: A last-load time this far in the future (a copied file, a wrong clock) is not trusted either.
FUTURE_SLACK_S: Final = 300.0

Upserted = Literal["added", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class MirrorStats:
    """What a mirror holds and when it was last loaded (``None``: never)."""

    subjects: int
    records: int
    removed: int
    loaded_at: datetime | None
    imported_at: datetime | None
    synced_at: datetime | None
    speaks_for_platform: bool


def checked_max_age(max_age_s: object) -> float:
    """``max_age_s`` as a float; TypeError/ValueError unless a positive finite number."""
    if isinstance(max_age_s, bool) or not isinstance(max_age_s, (int, float)):
        raise TypeError(f"max_age_s must be a number of seconds, not {max_age_s!r}")
    if not math.isfinite(max_age_s) or max_age_s <= 0:
        raise ValueError(f"max_age_s must be a positive number of seconds, not {max_age_s!r}")
    return float(max_age_s)


def never_loaded(where: str, source: str) -> SourceUnavailable:
    """The error for a mirror with no import or sync recorded."""
    return SourceUnavailable(
        f"{where} has never been loaded (no import or sync recorded): "
        "run `creditguard mirror import FILE` or `creditguard sync`",
        source=source,
    )


def check_fresh(
    loaded: float,
    as_of: datetime,
    *,
    now: float,
    max_age_s: float,
    where: str,
    source: str,
    copied: str = "file",
) -> None:
    """Raise :class:`SourceUnavailable` when the last load (``as_of``) no longer vouches.

    Too old (beyond ``max_age_s``) or in the future beyond a small slack (a
    wrong clock, a copied ``copied``): either way the mirror does not
    answer rather than answer from data it cannot vouch for.
    """
    age = now - loaded
    if age > max_age_s or age < -FUTURE_SLACK_S:
        when = as_of.strftime("%Y-%m-%d %H:%M")
        why = (
            f"{span(age)} ago, longer than its max_age_s ({span(max_age_s)})"
            if age > 0
            else f"a time in the future (a wrong clock or a copied {copied})"
        )
        raise SourceUnavailable(
            f"{where} was last loaded at {when} CST, {why}: "
            "run `creditguard sync` or import a current file",
            source=source,
        )


def stats(
    subjects: int,
    records: int,
    removed: int,
    state: tuple[float | None, float | None, float | None] | None,
) -> MirrorStats:
    """Counts and the ``(loaded_at, imported_at, synced_at)`` state row as :class:`MirrorStats`."""
    loaded, imported, synced = state if state is not None else (None, None, None)
    return MirrorStats(
        subjects=int(subjects),
        records=int(records),
        removed=int(removed),
        loaded_at=cst(loaded),
        imported_at=cst(imported),
        synced_at=cst(synced),
        speaks_for_platform=synced is not None,
    )


def as_related(rec: CreditRecord, org_code: str) -> CreditRecord | None:
    """An organisation's own record as its legal representative sees it; None for others' records."""
    if rec.role != "self":
        return None
    return rec.model_copy(update={"role": "legal_representative", "via": org_code})


# -- loading -----------------------------------------------------------------------------


@contextmanager
def file_lines(
    path: str | os.PathLike[str],
) -> Iterator[Iterable[tuple[int, str | None, str | None]]]:
    """Numbered lines of an import file, streamed; InvalidRecordError when it cannot be opened.

    The file is open for the ``with`` block only, and opened before it (a
    missing file is refused before any transaction begins).
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise InvalidRecordError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    with fh:
        yield iter_lines(read_lines(fh))


def memory_lines(lines: Iterable[str | bytes]) -> Iterable[tuple[int, str | None, str | None]]:
    """Numbered lines of an import given in memory (text or UTF-8 bytes)."""
    return iter_lines(ln if isinstance(ln, bytes) else ln.encode("utf-8") for ln in lines)


def normal_upsert(
    subject: Subject | None, record: CreditRecord, subject_code: str | None
) -> tuple[str, str, Subject | None, CreditRecord]:
    """Code, kind, subject and record of an upsert, normalised and checked before any write."""
    raw = subject.code if subject is not None else subject_code
    if raw is None:
        raise InvalidRecordError("upsert needs a subject or a subject_code")
    code, kind = normal_code(raw, "subject_code")
    if subject is not None and (subject.code != code or subject.kind != kind):
        subject = subject.model_copy(update={"code": code, "kind": kind})
    if record.via is not None:
        via, via_kind = normal_code(record.via, "record.via")
        if via_kind != "organization":
            raise InvalidRecordError("record.via: must be an organisation's code")
        record = record.model_copy(update={"via": via})
    check_history(record, "record")
    return code, kind, subject, record


def merge_upsert(
    held: tuple[str, str] | None,
    code: str,
    record: CreditRecord,
    at: str | datetime | date | None,
) -> tuple[str, Upserted]:
    """The record's JSON to store, and whether it is added, updated or unchanged.

    ``held`` is the held row ``(subject_code, data)`` of the record id, if
    any: one held for another subject is refused (an id never moves), and
    the held status history is carried over (see :func:`carry_history`).
    """
    if held is not None and held[0] != code:
        raise InvalidRecordError(conflict_text(record.record_id, held[0], code))
    if held is not None:
        record = carry_history(CreditRecord.model_validate_json(held[1]), record, day(at))
    data = record.model_dump_json()
    if held is None:
        return data, "added"
    return data, "unchanged" if held[1] == data else "updated"


def tombstone(
    held: tuple[str, str] | None, record_id: str, code: str, at: str | datetime | date | None
) -> str | None:
    """The removed record's JSON to store, or None when nothing changes (unknown or removed already).

    A held row of another subject is refused: a removal naming the wrong
    subject is not acted on.
    """
    if held is None:
        return None
    if held[0] != code:
        raise InvalidRecordError(conflict_text(record_id, held[0], code))
    old = CreditRecord.model_validate_json(held[1])
    if old.status == "removed":
        return None
    removed = old.model_copy(update={"status": "removed", "status_history": ()})
    return carry_history(old, removed, day(at)).model_dump_json()


def carry_history(held: CreditRecord, new: CreditRecord, on: date) -> CreditRecord:
    """``new`` with the held record's ``status_history``, plus its status change dated ``on``.

    A record that brings its own history keeps it. A held record without
    history that was in force (listed, rectifying) is taken to have had that
    status since ``listed_on``; one that was not in force has no known
    history, and none is invented.
    """
    if new.status_history:
        return new
    history = held.status_history
    if not history and held.status in ("listed", "rectifying"):
        history = (StatusChange(status=held.status, on=held.listed_on),)
    if held.status == new.status:
        return (
            new.model_copy(update={"status_history": held.status_history})
            if held.status_history
            else new
        )
    if not history:
        return new
    when = max(on, history[-1].on)
    return new.model_copy(
        update={"status_history": (*history, StatusChange(status=new.status, on=when))}
    )


def normal_code(raw: str, where: str) -> tuple[str, str]:
    """The normalised code and its kind; InvalidRecordError naming ``where`` when invalid."""
    try:
        sc = parse_code(str(raw))
    except InvalidCodeError as exc:
        raise InvalidRecordError(f"{where}: {exc}") from None
    return sc.code, sc.kind


def day(at: str | datetime | date | None) -> date:
    """The CST day of an event time; today when it is absent or unreadable."""
    if isinstance(at, datetime):
        return (at if at.tzinfo else at.replace(tzinfo=CST)).astimezone(CST).date()
    if isinstance(at, date):
        return at
    if isinstance(at, str) and at:
        try:
            return day(datetime.fromisoformat(at))
        except ValueError:
            pass
    return today_cst()


def cst(ts: float | None) -> datetime | None:
    """Seconds since the epoch as a CST datetime (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, CST)


def span(seconds: float) -> str:
    """A duration in the largest fitting unit (``3.0 days``, ``5 minutes``)."""
    seconds = abs(seconds)
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} s"
