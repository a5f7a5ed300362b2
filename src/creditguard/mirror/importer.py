"""Streaming, all-or-nothing import of record lines into the mirror's SQLite file.

Lines are validated and written one at a time inside one transaction, so
memory stays flat whatever the file's size; per-import bookkeeping (record
ids seen, subjects touched) lives in temporary tables, not in Python. Any
bad line rolls the whole transaction back: the file's stored state is left
exactly as it was. A record id already held for another subject is a
conflict (an id never moves between subjects), and a subject's link to its
legal representative changes only when a line says so.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from creditguard.errors import InvalidRecordError
from creditguard.masking import mask_code
from creditguard.mirror.lines import ImportLine, parse_line
from creditguard.models import RelatedPerson, Subject

__all__ = ["ImportRefused", "ImportReport", "LinkChange", "run_import"]

#: How many bad lines and link changes a report spells out (the counts are always complete).
MAX_SHOWN: Final = 20

_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS import_ids (
    record_id TEXT PRIMARY KEY, line INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS import_subjects (
    code TEXT PRIMARY KEY, rep_line INTEGER, rep TEXT, counted INTEGER NOT NULL
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class LinkChange:
    """A subject's legal-representative link the import set, changed or removed (codes masked)."""

    subject_code: str
    before: str | None
    after: str | None
    line: int

    def __str__(self) -> str:
        return f"line {self.line}: {self.subject_code} {self.before or '-'} -> {self.after or '-'}"


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did.

    Records are ``added`` (new id), ``updated`` (held, now different) or
    ``unchanged``; ``refused`` counts bad lines (always 0 in a report: one
    bad line refuses the whole file, see :class:`ImportRefused`). Links are
    legal-representative links: ``link_changes`` lists the first 20.
    """

    lines: int
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    subjects: int = 0
    subjects_added: int = 0
    subjects_updated: int = 0
    links_set: int = 0
    links_changed: int = 0
    links_removed: int = 0
    link_changes: tuple[LinkChange, ...] = ()

    @property
    def records(self) -> int:
        """Records the file holds (added + updated + unchanged)."""
        return self.added + self.updated + self.unchanged

    @property
    def changed(self) -> int:
        """Records and subjects the import changed; 0 when the same file is imported again."""
        return self.added + self.updated + self.subjects_added + self.subjects_updated

    def summary(self) -> str:
        """One plain line: ``12 changed (records: 10 added, 2 updated, 5 unchanged; ...)``."""
        return (
            f"{self.changed} changed (records: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.refused} refused; subjects: "
            f"{self.subjects_added} added, {self.subjects_updated} updated; legal-representative "
            f"links: {self.links_set} set, {self.links_changed} changed, {self.links_removed} removed)"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready mapping."""
        return {
            "lines": self.lines,
            "changed": self.changed,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "records": self.records,
            "subjects": self.subjects,
            "subjects_added": self.subjects_added,
            "subjects_updated": self.subjects_updated,
            "links_set": self.links_set,
            "links_changed": self.links_changed,
            "links_removed": self.links_removed,
            "link_changes": [
                {
                    "subject_code": c.subject_code,
                    "before": c.before,
                    "after": c.after,
                    "line": c.line,
                }
                for c in self.link_changes
            ],
        }


def link_change(
    code: str, kind: str, old_link: str | None, new_link: str | None, line: int
) -> LinkChange | None:
    """A subject's legal-representative link change (codes masked); None when it stays."""
    if old_link == new_link:
        return None
    return LinkChange(
        subject_code=mask_code(code, kind),
        before=mask_code(old_link, "person") if old_link else None,
        after=mask_code(new_link, "person") if new_link else None,
        line=line,
    )


@dataclass
class LinkCounts:
    """Legal-representative links an import set, changed and removed."""

    links_set: int = 0
    links_changed: int = 0
    links_removed: int = 0

    def count(self, change: LinkChange) -> None:
        """Count one change by what it did."""
        if change.before is None:
            self.links_set += 1
        elif change.after is None:
            self.links_removed += 1
        else:
            self.links_changed += 1


def refused(name: str, refused: int, lines: int, problems: tuple[str, ...]) -> ImportRefused:
    """The error for an import with bad lines (``problems``: the first ones, ``file:line: what``)."""
    shown = "\n".join(problems)
    more = f"\n... and {refused - MAX_SHOWN} more bad lines" if refused > MAX_SHOWN else ""
    return ImportRefused(
        f"{refused} bad line(s), nothing imported:\n{shown}{more}",
        path=name,
        refused=refused,
        lines=lines,
        problems=problems,
    )


def empty(name: str) -> ImportRefused:
    """The error for an import without a single line: an empty export is not a clean list."""
    return ImportRefused(
        "no records in the file, nothing imported (an empty export is not a clean list)",
        path=name,
        refused=0,
        lines=0,
        problems=(),
    )


def duplicate_text(record_id: str, first_line: int | str) -> str:
    """Why a record id given twice in one file is refused."""
    return f"record_id {record_id!r} already appears on line {first_line}"


def rep_differs_text(code: str, kind: str, first_line: int | str) -> str:
    """Why a second, different legal representative of one subject in one file is refused."""
    return (
        f"subject {mask_code(code, kind)}: legal_representative differs from "
        f"line {first_line} of this file"
    )


def rep_json(rep: RelatedPerson | None) -> str:
    """A legal representative as compared between lines (``null`` when removed)."""
    return "null" if rep is None else rep.model_dump_json()


class ImportRefused(InvalidRecordError):
    """An import file with bad lines: nothing was imported.

    ``refused`` counts the bad lines, ``lines`` the non-blank lines read, and
    ``problems`` spells out the first 20 (``file:line: what``).
    """

    def __init__(
        self, message: str, *, path: str, refused: int, lines: int, problems: tuple[str, ...]
    ) -> None:
        super().__init__(message, path=path)
        self.refused = refused
        self.lines = lines
        self.problems = problems


@dataclass
class _Tally(LinkCounts):
    lines: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    subjects: int = 0
    subjects_added: int = 0
    subjects_updated: int = 0
    link_changes: list[LinkChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def report(self) -> ImportReport:
        return ImportReport(
            lines=self.lines,
            added=self.added,
            updated=self.updated,
            unchanged=self.unchanged,
            refused=self.refused,
            subjects=self.subjects,
            subjects_added=self.subjects_added,
            subjects_updated=self.subjects_updated,
            links_set=self.links_set,
            links_changed=self.links_changed,
            links_removed=self.links_removed,
            link_changes=tuple(self.link_changes),
        )


def run_import(
    conn: sqlite3.Connection,
    lines: Iterable[tuple[int, str | None, str | None]],
    *,
    name: str,
) -> ImportReport:
    """Apply numbered lines inside the caller's open transaction; raise :class:`ImportRefused`.

    ``lines`` yields ``(line number, text, problem)``; a ``problem`` (not
    UTF-8, too long) refuses that line. The caller rolls back on any error.
    """
    # Statement by statement: executescript would commit the caller's transaction.
    for statement in _TEMP.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("DELETE FROM import_ids")
    conn.execute("DELETE FROM import_subjects")
    t = _Tally()
    for lineno, text, problem in lines:
        t.lines += 1
        try:
            if problem is not None or text is None:
                raise InvalidRecordError(problem or "unreadable line")
            _apply(conn, parse_line(text), lineno, t)
        except InvalidRecordError as exc:
            t.refused += 1
            if len(t.problems) < MAX_SHOWN:
                t.problems.append(f"{name}:{lineno}: {exc}")
    if t.refused:
        raise refused(name, t.refused, t.lines, tuple(t.problems))
    if t.lines == 0:
        raise empty(name)
    t.subjects = int(conn.execute("SELECT COUNT(*) FROM import_subjects").fetchone()[0])
    return t.report()


def _apply(conn: sqlite3.Connection, line: ImportLine, lineno: int, t: _Tally) -> None:
    # Everything that can refuse the line is checked before anything is written.
    rec = line.record
    rid = rec.record_id
    if conn.execute("INSERT OR IGNORE INTO import_ids VALUES (?, ?)", (rid, lineno)).rowcount == 0:
        (first,) = conn.execute(
            "SELECT line FROM import_ids WHERE record_id = ?", (rid,)
        ).fetchone()
        raise InvalidRecordError(duplicate_text(rid, first))
    held = conn.execute(
        "SELECT subject_code, data FROM records WHERE record_id = ?", (rid,)
    ).fetchone()
    if held is not None and held[0] != line.code:
        raise InvalidRecordError(conflict_text(rid, held[0], line.code))
    seen = conn.execute(
        "SELECT rep_line, rep, counted FROM import_subjects WHERE code = ?", (line.code,)
    ).fetchone()
    rep = rep_json(line.rep)
    if seen is not None and line.rep_given and seen[0] is not None and seen[1] != rep:
        raise InvalidRecordError(rep_differs_text(line.code, line.kind, seen[0]))
    _subject(conn, line, lineno, seen, rep, t)
    data = rec.model_dump_json()
    if held is None:
        conn.execute(
            "INSERT INTO records(record_id, subject_code, data) VALUES (?, ?, ?)",
            (rid, line.code, data),
        )
        t.added += 1
    elif held[1] == data:
        t.unchanged += 1
    else:
        conn.execute("UPDATE records SET data = ? WHERE record_id = ?", (data, rid))
        t.updated += 1


def conflict_text(record_id: str, held_by: str, claimed_by: str) -> str:
    """Why a record id cannot move to another subject (codes masked)."""
    return (
        f"record_id {record_id!r} belongs to subject {mask_code(held_by)} in the mirror, "
        f"not to {mask_code(claimed_by)}: a record id never moves between subjects"
    )


def _subject(
    conn: sqlite3.Connection,
    line: ImportLine,
    lineno: int,
    seen: tuple[Any, ...] | None,
    rep_json: str,
    t: _Tally,
) -> None:
    apply_rep = line.rep_given and (seen is None or seen[0] is None)
    if seen is not None and not apply_rep and not line.name_given:
        return  # a further line of a subject already handled, saying nothing new about it
    held = conn.execute(
        "SELECT data, legal_rep FROM subjects WHERE code = ?", (line.code,)
    ).fetchone()
    before = Subject.model_validate_json(held[0]) if held is not None else None
    update: dict[str, Any] = {"kind": line.kind}
    if line.name_given:
        update["name"] = line.name
    if apply_rep:
        update["legal_representative"] = line.rep
    base = before or Subject(code=line.code, kind=line.kind)
    after = base.model_copy(update=update)
    data = after.model_dump_json(exclude_none=True)
    old_link = held[1] if held is not None else None
    new_link = after.legal_representative.code if after.legal_representative else None
    counted = seen[2] if seen is not None else 0
    if held is None:
        t.subjects_added += 1
        counted = 1
    elif held[0] != data and not counted:
        t.subjects_updated += 1
        counted = 1
    if held is None or held[0] != data:
        conn.execute(
            "INSERT INTO subjects(code, kind, data, legal_rep) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(code) DO UPDATE SET kind = excluded.kind, data = excluded.data, "
            "legal_rep = excluded.legal_rep",
            (line.code, line.kind, data, new_link),
        )
    change = link_change(line.code, line.kind, old_link, new_link, lineno)
    if change is not None:
        t.count(change)
        if len(t.link_changes) < MAX_SHOWN:
            t.link_changes.append(change)
    rep_line = lineno if apply_rep else (seen[0] if seen is not None else None)
    rep_kept = rep_json if apply_rep else (seen[1] if seen is not None else None)
    conn.execute(
        "INSERT INTO import_subjects VALUES (?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET "
        "rep_line = excluded.rep_line, rep = excluded.rep, counted = excluded.counted",
        (line.code, rep_line, rep_kept, counted),
    )
