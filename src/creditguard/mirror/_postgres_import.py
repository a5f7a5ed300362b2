"""An import into the PostgreSQL mirror: checked lines streamed in with COPY, applied set-wise.

:class:`PgImport` runs inside the mirror's write transaction
(:meth:`~creditguard.mirror._postgres.PostgresMirror.import_jsonl`): it finds
refused lines in SQL with the same checks, in the same order, as the SQLite
importer, and reports the same figures.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from creditguard.errors import InvalidRecordError
from creditguard.mirror import importer
from creditguard.mirror.importer import MAX_SHOWN, ImportReport, LinkChange, conflict_text
from creditguard.mirror.lines import parse_line
from creditguard.models import RelatedPerson, Subject

if TYPE_CHECKING:
    import psycopg

__all__ = ["PgImport"]

_IMPORT_TEMP: Final = """
CREATE TEMP TABLE mirror_import (
    line INTEGER NOT NULL, record_id TEXT NOT NULL, code TEXT NOT NULL, kind TEXT NOT NULL,
    data TEXT NOT NULL, name_given BOOLEAN NOT NULL, name TEXT, rep_given BOOLEAN NOT NULL,
    rep TEXT NOT NULL
) ON COMMIT DROP
"""

# Each refused line with why: a repeated record id, a record id held for another
# subject, or a legal representative that differs from an earlier line of the file.
# The same checks, in the same order, as the SQLite importer's line-by-line pass.
_PROBLEMS: Final = """
WITH firsts AS (
    SELECT i.*, MIN(line) OVER (PARTITION BY record_id) AS first_line FROM mirror_import i
), checked AS (
    SELECT f.*, r.subject_code AS held_by FROM firsts f
    LEFT JOIN mirror_records r ON r.record_id = f.record_id AND f.line = f.first_line
), ok AS (
    SELECT c.*, MIN(line) FILTER (WHERE rep_given) OVER (PARTITION BY code) AS rep_line
    FROM checked c WHERE line = first_line AND (held_by IS NULL OR held_by = code)
)
SELECT line, 'dup', record_id, first_line::text, code, kind FROM checked WHERE line > first_line
UNION ALL
SELECT line, 'conflict', record_id, held_by, code, kind FROM checked
    WHERE line = first_line AND held_by IS NOT NULL AND held_by <> code
UNION ALL
SELECT o.line, 'rep', o.record_id, o.rep_line::text, o.code, o.kind FROM ok o
    JOIN mirror_import first_rep ON first_rep.line = o.rep_line
    WHERE o.rep_given AND o.line > o.rep_line AND o.rep <> first_rep.rep
ORDER BY 1
"""

_SUBJECTS: Final = """
SELECT i.code, i.kind, i.names, i.name_lines, i.rep_line, i.rep, s.data, s.legal_rep
FROM (
    SELECT code, MIN(kind) AS kind,
        array_agg(name ORDER BY line) FILTER (WHERE name_given) AS names,
        array_agg(line ORDER BY line) FILTER (WHERE name_given) AS name_lines,
        MIN(line) FILTER (WHERE rep_given) AS rep_line,
        (array_agg(rep ORDER BY line) FILTER (WHERE rep_given))[1] AS rep,
        MIN(line) AS first_line
    FROM mirror_import GROUP BY code
) i LEFT JOIN mirror_subjects s ON s.code = i.code
ORDER BY i.first_line
"""


class PgImport:
    """One import: COPY checked lines in, find refused lines in SQL, apply set-wise."""

    def __init__(self, conn: psycopg.Connection[Any], name: str) -> None:
        self.conn = conn
        self.name = name

    def run(self, lines: Iterable[tuple[int, str | None, str | None]]) -> ImportReport:
        conn = self.conn
        conn.execute("DROP TABLE IF EXISTS mirror_import")
        conn.execute(_IMPORT_TEMP)
        count = 0
        refused = 0
        problems: list[tuple[int, str]] = []
        with conn.cursor() as cur, cur.copy("COPY mirror_import FROM STDIN") as copy:
            for lineno, text, problem in lines:
                count += 1
                try:
                    if problem is not None or text is None:
                        raise InvalidRecordError(problem or "unreadable line")
                    ln = parse_line(text)
                except InvalidRecordError as exc:
                    refused += 1
                    if len(problems) < MAX_SHOWN:
                        problems.append((lineno, str(exc)))
                    continue
                copy.write_row(
                    (
                        lineno,
                        ln.record.record_id,
                        ln.code,
                        ln.kind,
                        ln.record.model_dump_json(),
                        ln.name_given,
                        ln.name,
                        ln.rep_given,
                        importer.rep_json(ln.rep),
                    )
                )
        conn.execute("ANALYZE mirror_import")
        sql_refused, sql_problems = self._problems()
        refused += sql_refused
        if refused:
            shown = heapq.nsmallest(MAX_SHOWN, [*problems, *sql_problems])
            texts = tuple(f"{self.name}:{n}: {msg}" for n, msg in shown)
            raise importer.refused(self.name, refused, count, texts)
        if count == 0:
            raise importer.empty(self.name)
        return self._apply(count)

    def _problems(self) -> tuple[int, list[tuple[int, str]]]:
        shown: list[tuple[int, str]] = []
        n = 0
        with self.conn.cursor() as cur:
            for line, why, rid, other, code, kind in cur.execute(_PROBLEMS):
                n += 1
                if len(shown) >= MAX_SHOWN:
                    continue
                if why == "dup":
                    msg = importer.duplicate_text(rid, other)
                elif why == "conflict":
                    msg = conflict_text(rid, other, code)
                else:
                    msg = importer.rep_differs_text(code, kind, other)
                shown.append((int(line), str(InvalidRecordError(msg))))
        return n, shown

    def _apply(self, count: int) -> ImportReport:
        conn = self.conn
        added, updated, unchanged = conn.execute(
            "SELECT COUNT(*) FILTER (WHERE r.record_id IS NULL), "
            "COUNT(*) FILTER (WHERE r.data <> i.data), COUNT(*) FILTER (WHERE r.data = i.data) "
            "FROM mirror_import i LEFT JOIN mirror_records r ON r.record_id = i.record_id"
        ).fetchone() or (0, 0, 0)
        conn.execute(
            "INSERT INTO mirror_records (record_id, subject_code, data) "
            "SELECT record_id, code, data FROM mirror_import ORDER BY line "
            "ON CONFLICT (record_id) DO UPDATE SET data = EXCLUDED.data "
            "WHERE mirror_records.data <> EXCLUDED.data"
        )
        t = _SubjectTally()
        conn.execute(
            "CREATE TEMP TABLE mirror_import_subjects (code TEXT, kind TEXT, data TEXT, "
            "legal_rep TEXT, ord INTEGER) ON COMMIT DROP"
        )
        n = 0
        with conn.cursor(name="mirror_import_subjects_read") as read, conn.cursor() as w:
            read.execute(_SUBJECTS)
            # Chunk by chunk: a COPY holds the connection, so reading and writing alternate.
            while chunk := read.fetchmany(5000):
                with w.copy("COPY mirror_import_subjects FROM STDIN") as copy:
                    for row in chunk:
                        out = t.subject(*row)
                        n += 1
                        if out is not None:
                            copy.write_row((*out, n))
        conn.execute(
            "INSERT INTO mirror_subjects (code, kind, data, legal_rep) "
            "SELECT code, kind, data, legal_rep FROM mirror_import_subjects ORDER BY ord "
            "ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, data = EXCLUDED.data, "
            "legal_rep = EXCLUDED.legal_rep"
        )
        return ImportReport(
            lines=count,
            added=int(added),
            updated=int(updated),
            unchanged=int(unchanged),
            subjects=t.subjects,
            subjects_added=t.added,
            subjects_updated=t.updated,
            links_set=t.links.links_set,
            links_changed=t.links.links_changed,
            links_removed=t.links.links_removed,
            link_changes=tuple(c for _, c in sorted(t.changes)),
        )


class _SubjectTally:
    """Subjects' new data and link changes, one aggregated row per subject of the file."""

    def __init__(self) -> None:
        self.subjects = self.added = self.updated = 0
        self.links = importer.LinkCounts()
        # The first MAX_SHOWN link changes by line: a max-heap of (-line, change).
        self._heap: list[tuple[int, int, LinkChange]] = []
        self._n = 0

    @property
    def changes(self) -> list[tuple[int, LinkChange]]:
        return [(-neg, c) for neg, _, c in self._heap]

    def subject(
        self,
        code: str,
        kind: str,
        names: list[str | None] | None,
        name_lines: list[int] | None,
        rep_line: int | None,
        rep: str | None,
        held: str | None,
        old_link: str | None,
    ) -> tuple[str, str, str, str | None] | None:
        self.subjects += 1
        before = Subject.model_validate_json(held) if held is not None else None
        base = before or Subject(code=code, kind=kind)
        rep_update: dict[str, Any] = {}
        if rep_line is not None:
            rep_update["legal_representative"] = (
                None if rep in (None, "null") else RelatedPerson.model_validate_json(rep or "")
            )
        names = names or []
        changed_on_the_way = False
        if len(names) > 1:
            # A name given more than once may change and change back: the SQLite importer
            # counts a subject updated when any line changed it, so replay the lines.
            state, at = base, held
            for line, name in zip(name_lines or [], names, strict=True):
                upd: dict[str, Any] = {"kind": kind, "name": name}
                if rep_line is not None and rep_line <= line and "applied" not in rep_update:
                    upd.update(rep_update)
                    rep_update["applied"] = True
                state = state.model_copy(update=upd)
                data_now = state.model_dump_json(exclude_none=True)
                changed_on_the_way = changed_on_the_way or data_now != at
                at = data_now
            rep_update.pop("applied", None)
        update: dict[str, Any] = {"kind": kind, **rep_update}
        if names:
            update["name"] = names[-1]
        after = base.model_copy(update=update)
        data = after.model_dump_json(exclude_none=True)
        new_link = after.legal_representative.code if after.legal_representative else None
        change = importer.link_change(code, kind, old_link, new_link, int(rep_line or 0))
        if change is not None:
            self.links.count(change)
            self._n += 1
            item = (-change.line, self._n, change)
            if len(self._heap) < MAX_SHOWN:
                heapq.heappush(self._heap, item)
            elif change.line < -self._heap[0][0]:
                heapq.heapreplace(self._heap, item)
        if held is None:
            self.added += 1
        elif held != data or changed_on_the_way:
            self.updated += 1
        if held == data:
            return None
        return code, kind, data, new_link
