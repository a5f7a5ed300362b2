"""The decision journal: what every decision decided, appended to a SQLite file.

What is stored is the verdict, not a copy of the decision: the decision id
and time, the subject (masked: a resident ID number keeps its first 6 and last
4 characters), step, region, date, outcome, ``verified`` / ``stale``, the
codes of the measures and conditions applied, the ids of the records they
rest on, the measure list's region and version, the sources asked and the
reason for a degraded decision. The explanation is not stored as text: each
verdict keeps the wording version and the facts its text is rendered from
(``facts``, a compact masked JSON: records, measures, provenance…), so
:func:`render_explanation` (``creditguard journal show``) gives the text exactly
as it was shown, even after the wording is improved, and always masked.

Cost. Repeated checks of one subject reach the same verdict, so a verdict is
written once (table ``verdicts``) and each decision adds only its verdict, id
and time to the batch it is written in (table ``batches``: one row per write,
a JSON array). A verdict without records, measures or possible matches (a
clean subject, most checks) is the same for every subject of its kind: it is
written once without the subject (``subject`` is empty), and each decision
carries its masked subject in its batch entry instead, so a million distinct
clean subjects add a million short entries, not a million verdict rows. The
view ``decisions`` shows one row per decision for SQL readers;
:func:`read_journal` and ``creditguard journal`` read the same thing.

Queue and back-pressure. :meth:`DecisionJournal.append` puts the decision on
an in-memory queue; a background thread writes the queue every
``flush_interval`` seconds (0.5 s by default), sooner once ``batch`` decisions
(4,096) are waiting. The queue is bounded: when ``max_queued`` decisions
(20,000) are waiting because the writer cannot keep up, the checking thread
writes the queue down to half of that itself before its check returns. No
decision is ever dropped; a busy guard slows down instead of growing without
bound. If the file cannot be written at all, decisions stay queued (and are
retried) until the bound is reached; then checks raise
:class:`~creditguard.errors.StorageError` rather than forget decisions.

What a crash can lose: the decisions still queued, that is those of the last
``flush_interval`` seconds and never more than ``max_queued`` (plus one batch
being written). Decisions that applied measures become cases, which the
outbox writes durably before the step returns, so a crash may lose the audit
copy of such a decision but never its feedback duty.
"""

from __future__ import annotations

import json
import logging
import operator
import os
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from creditguard._files import prepare_private_file
from creditguard._journal_base import (
    QueuedJournal,
    decision_facts,
    entry_fields,
    is_template,
    key_parts,
    masked_subject,
    template_key,
    verdict_fields,
    verdict_key,
)
from creditguard.errors import StorageError
from creditguard.masking import mask_code, mask_text
from creditguard.models import Decision

__all__ = ["DecisionJournal", "JournalEntry", "read_journal", "render_explanation"]

_SCHEMA_VERSION = 5
#: Layouts whose tables this version reads (4 added the subject to clean entries,
#: 5 the wording version and facts of each verdict).
_READABLE_FROM = 3

_SCHEMA = """
-- What was decided, once per distinct verdict (repeated checks share one).
CREATE TABLE IF NOT EXISTS verdicts (
    verdict INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,           -- masked (6 + 4 characters of an ID number); '' in a
                                     -- template shared by clean decisions (subject per entry)
    subject_kind TEXT NOT NULL,
    step TEXT NOT NULL,
    region TEXT NOT NULL,
    as_of TEXT NOT NULL,
    outcome TEXT NOT NULL,
    verified INTEGER NOT NULL,
    stale INTEGER NOT NULL,
    stale_age_s REAL,
    measures TEXT NOT NULL,          -- measure codes applied at this step, space-separated
    conditions TEXT NOT NULL,        -- measure codes noted as conditions, space-separated
    records TEXT NOT NULL,           -- ids of the records with effect, space-separated
    list_region TEXT,
    list_version TEXT,
    sources TEXT NOT NULL,           -- sources asked, space-separated
    possible_matches INTEGER NOT NULL,
    degraded_reason TEXT,
    wording_version TEXT,            -- wording the text was shown in (NULL before layout 5)
    facts TEXT                       -- masked JSON of what the text is rendered from
);
-- The decisions, one row per write: each decision's verdict, id and time.
CREATE TABLE IF NOT EXISTS batches (
    batch INTEGER PRIMARY KEY,
    base_at TEXT NOT NULL,           -- time of the batch's first decision (ISO 8601)
    last_at TEXT NOT NULL,           -- time of its latest decision
    n INTEGER NOT NULL,
    decisions TEXT NOT NULL          -- JSON [[verdict, decision_id, µs after base_at], ...];
                                     -- entries of a template verdict add the masked subject
);
CREATE INDEX IF NOT EXISTS batches_time ON batches(last_at);
"""

# One row per decision, for whoever reads the file with SQL.
_VIEW = """
CREATE VIEW IF NOT EXISTS decisions AS
SELECT json_extract(e.value, '$[1]') AS decision_id,
       strftime('%Y-%m-%dT%H:%M:%fZ', b.base_at,
                printf('%+.6f seconds', json_extract(e.value, '$[2]') / 1e6)) AS decided_at_utc,
       COALESCE(json_extract(e.value, '$[3]'), v.subject) AS subject, v.subject_kind, v.step, v.region, v.as_of, v.outcome, v.verified, v.stale,
       v.stale_age_s, v.measures, v.conditions, v.records, v.list_region, v.list_version,
       v.sources, v.possible_matches, v.degraded_reason
FROM batches AS b, json_each(b.decisions) AS e
JOIN verdicts AS v ON v.verdict = json_extract(e.value, '$[0]')
"""

_INSERT_VERDICT = "INSERT INTO verdicts VALUES (NULL" + ", ?" * 19 + ")"
_INSERT_BATCH = "INSERT INTO batches VALUES (NULL, ?, ?, ?, ?)"

log = logging.getLogger("creditguard.journal")

#: A queued decision: (verdict row id, decision id, time, None, None, subject) once its
#: verdict is known, else (None, decision id, time, verdict key, the decision, subject).
#: ``subject`` (already masked) is set only for a template verdict's decisions.
# (verdict, decision id, time, verdict key, the decision — or the verdict row of one of its
# own, made when it was appended —, masked subject of a template decision)
_Queued = tuple[
    int | None, str, datetime, tuple[Any, ...] | None, Decision | tuple[Any, ...] | None, str | None
]

_US = timedelta(microseconds=1)
_THIRD = operator.itemgetter(2)


def _upgrade(conn: sqlite3.Connection) -> None:
    """Create the tables; a journal of the first layout keeps its rows in ``decisions_v1``."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= _SCHEMA_VERSION:
        return
    with conn:
        old = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'decisions'"
        ).fetchone()
        if old:  # the first layout stored each decision's JSON; kept, no longer written
            conn.execute("ALTER TABLE decisions RENAME TO decisions_v1")
        if version in (3, 4):  # same tables: verdicts gain wording and facts (NULL for old rows)
            have = {r[1] for r in conn.execute("PRAGMA table_info(verdicts)")}
            for column in ("wording_version", "facts"):
                if column not in have:
                    conn.execute(f"ALTER TABLE verdicts ADD COLUMN {column} TEXT")
            if version == 3:  # the view reads a clean entry's own subject
                conn.execute("DROP VIEW IF EXISTS decisions")
                conn.execute(_VIEW)
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            return
        if version == 2:  # a development layout (one batch row per verdict): kept apart
            conn.execute("DROP VIEW IF EXISTS decisions")
            conn.execute("ALTER TABLE batches RENAME TO batches_v2")
            conn.execute("ALTER TABLE verdicts RENAME TO verdicts_v2")
            conn.execute("DROP INDEX IF EXISTS batches_time")
        conn.executescript(_SCHEMA)
        try:
            conn.execute(_VIEW)
        except sqlite3.OperationalError:  # an SQLite without JSON functions: no view
            log.warning("SQLite lacks json_each: the journal's 'decisions' view is not created")
        conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")


class DecisionJournal(QueuedJournal):
    """Append-only decision log in SQLite, written in batches off the hot path.

    ``flush_interval`` is the longest a decision waits on the queue while the
    guard is quiet; ``batch`` queued decisions wake the writer sooner;
    ``max_queued`` bounds the queue (the checking thread then writes itself).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_interval: float = 0.5,
        batch: int = 4096,
        max_queued: int = 20_000,
    ) -> None:
        super().__init__(flush_interval=flush_interval, batch=batch, max_queued=max_queued)
        self.path = Path(path)
        try:
            prepare_private_file(self.path)  # owner-only: it holds personal data
            conn = self._connect()
            _upgrade(conn)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open decision journal {self.path}: {exc}") from exc
        self._conn: sqlite3.Connection | None = conn
        # verdict key -> (the objects whose ids are in the key, verdict row id)
        self._verdicts: dict[tuple[Any, ...], tuple[tuple[Any, ...], int]] = {}
        self._register()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # In WAL mode, NORMAL syncs at checkpoints, not at every commit: a committed batch
        # survives a crash of the process; a power cut may lose the last commits. An
        # fsync per batch would cost the checks more CPU than the rest of the journal.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def append(self, decision: Decision, *, shared: bool = True) -> None:
        """Queue a decision for writing: a deque append, unless the writer is far behind.

        When ``max_queued`` decisions are waiting, this writes the queue down
        to half of that in the calling thread (back-pressure) and raises
        :class:`~creditguard.errors.StorageError` if the file cannot be written.
        ``shared=False`` says the decision's records and measures are its own
        (a screened subject, never decided again from the same objects): its
        verdict is written but not kept for later decisions to point at.
        """
        # The decision's own field dict (every field of a trusted or validated model is
        # there): item lookups in C instead of a dozen attribute lookups through pydantic.
        v = decision.__dict__
        q = self._queue
        if is_template(v):
            # A clean verdict: one template row per kind, step, list… for every subject
            # (its key holds what the text shows, so the template's facts render it).
            key = template_key(v)
            subject = v["subject_code"]  # masked now: only the masked form waits on the queue
            if v["subject_kind"] != "organization":
                subject = mask_code(subject, v["subject_kind"])
            hit = self._verdicts.get(key)
            if hit is not None:
                q.append((hit[1], v["decision_id"], v["decided_at"], None, None, subject))
            else:
                q.append((None, v["decision_id"], v["decided_at"], key, decision, subject))
            if len(q) >= self.batch:
                self._behind(len(q))
            elif self._thread is None:
                self._start()
            return
        # Keyed by the identities of its records, measures…: the verdict map keeps them
        # alive, so no id is reused meanwhile.
        if not shared:
            # A verdict of its own, not remembered (see _write). Its row is made now, so
            # only strings wait on the queue and the decision is freed at once (screening
            # would otherwise keep thousands of them alive for the collector to walk).
            row = _verdict_row(decision, template=False)
            q.append((None, v["decision_id"], v["decided_at"], None, row, None))
            if len(q) >= self.batch:
                self._behind(len(q))
            elif self._thread is None:
                self._start()
            return
        key = verdict_key(v)
        hit = self._verdicts.get(key)  # committed verdicts only (see _write_batch)
        if hit is not None:
            # Only the id and time wait on the queue: the decision itself is freed now,
            # so its memory is reused at once instead of piling up until the write.
            q.append((hit[1], v["decision_id"], v["decided_at"], None, None, None))
        else:
            q.append((None, v["decision_id"], v["decided_at"], key, decision, None))
        if len(q) >= self.batch:
            self._behind(len(q))
        elif self._thread is None:
            self._start()

    def _write(self, batch: list[_Queued]) -> None:
        """Write ``batch`` in one transaction, then publish the verdicts it added."""
        try:
            conn = self._conn
            if conn is None:
                conn = self._conn = self._connect()
            with conn:
                base = batch[0][2]
                rows: list[tuple[Any, ...]] = []
                fresh: dict[tuple[Any, ...], tuple[tuple[Any, ...], int]] = {}
                for verdict, decision_id, decided_at, key, d, subject in batch:
                    if verdict is None and key is None:
                        assert type(d) is tuple  # a verdict row of its own (shared=False)
                        verdict = conn.execute(_INSERT_VERDICT, d).lastrowid
                    elif verdict is None:
                        assert key is not None and isinstance(d, Decision)
                        hit = self._verdicts.get(key) or fresh.get(key)
                        if hit is None:
                            verdict = self._new_verdict(conn, d, template=subject is not None)
                            fresh[key] = (key_parts(d), verdict)
                        else:
                            verdict = hit[1]
                    # a timedelta in µs is ~8x cheaper than formatting each time
                    at = (decided_at - base) // _US
                    if subject is None:
                        rows.append((verdict, decision_id, at))
                    else:
                        rows.append((verdict, decision_id, at, subject))
                last = base + _US * max(map(_THIRD, rows))
                conn.execute(
                    _INSERT_BATCH,
                    (
                        base.isoformat(),
                        last.isoformat(),
                        len(rows),
                        json.dumps(rows, separators=(",", ":")),
                    ),
                )
        except sqlite3.Error as exc:
            # This batch's verdict rows were rolled back and never published; the
            # decisions go back on the queue (QueuedJournal._write_batch).
            raise StorageError(f"decision journal {self.path}: write failed: {exc}") from exc
        # Published only now that they are committed: append() resolves verdicts from here.
        if len(self._verdicts) + len(fresh) > 4096:
            self._verdicts.clear()
        self._verdicts.update(fresh)

    def _new_verdict(self, conn: sqlite3.Connection, d: Decision, *, template: bool) -> int:
        """Write the verdict row of ``d`` and return its id (without the subject: a template)."""
        verdict = conn.execute(_INSERT_VERDICT, _verdict_row(d, template=template)).lastrowid
        assert verdict is not None
        return verdict

    def _close_store(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _reset_after_fork(self) -> None:
        super()._reset_after_fork()
        self._conn = None
        self._verdicts = {}

    def entries(
        self, *, since: datetime | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        """Write what is queued, then read decisions (oldest first)."""
        self.flush()
        return read_journal(self.path, since=since, limit=limit)


def _verdict_row(d: Decision, *, template: bool) -> tuple[Any, ...]:
    """The ``verdicts`` row of ``d`` (masked; without the subject: a template)."""
    return (
        *verdict_fields(d, "" if template else masked_subject(d)),
        d.wording_version,
        decision_facts(d),
    )


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled decision: what was decided, with the subject masked."""

    decision_id: str
    decided_at: str
    subject: str
    subject_kind: str
    step: str
    region: str
    as_of: str
    outcome: str
    verified: bool
    stale: bool
    stale_age_s: float | None
    measures: tuple[str, ...]
    conditions: tuple[str, ...]
    records: tuple[str, ...]
    list_region: str | None
    list_version: str | None
    sources: tuple[str, ...]
    possible_matches: int
    degraded_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain JSON-ready data (``creditguard journal --json``)."""
        data = asdict(self)
        for key in ("measures", "conditions", "records", "sources"):
            data[key] = list(data[key])
        return data


def read_journal(
    path: str | os.PathLike[str], *, since: datetime | None = None, limit: int | None = None
) -> list[JournalEntry]:
    """Read journaled decisions, oldest first (by time, then id); ``since`` is inclusive.

    ``path`` may be a ``postgresql://`` DSN (:mod:`creditguard.journal_pg`).
    """
    from creditguard.journal_pg import is_dsn, read_postgres_journal

    if is_dsn(path):
        return read_postgres_journal(path, since=since, limit=limit)
    p = Path(path)
    if not p.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] < _READABLE_FROM:
                return []  # never written in this layout (or not yet created)
            sql = "SELECT base_at, decisions FROM batches"
            args: list[Any] = []
            if since is not None:
                sql += " WHERE last_at >= ?"
                args.append(since.isoformat())
            batches = conn.execute(sql, args).fetchall()
            # An entry is [verdict, id, µs] or, for a template verdict, [..., subject].
            decided = [
                (e[0], e[1], (base + _US * e[2]).isoformat(), e[3] if len(e) > 3 else None)
                for base_at, packed in batches
                for base in (datetime.fromisoformat(base_at),)
                for e in json.loads(packed)
            ]
            verdicts = _verdicts(conn, {e[0] for e in decided})
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read decision journal {p}: {exc}") from exc
    after = since.isoformat() if since is not None else ""
    entries = [
        JournalEntry(decision_id, decided_at, *verdicts[v])
        if subject is None
        else JournalEntry(decision_id, decided_at, subject, *verdicts[v][1:])
        for v, decision_id, decided_at, subject in decided
        if decided_at >= after
    ]
    entries.sort(key=lambda e: (e.decided_at, e.decision_id))
    return entries[:limit] if limit is not None else entries


def _verdicts(conn: sqlite3.Connection, ids: set[int]) -> dict[int, tuple[Any, ...]]:
    """The verdict rows of ``ids``, as the fields of a :class:`JournalEntry` after id and time."""
    out: dict[int, tuple[Any, ...]] = {}
    wanted = sorted(ids)
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(f"SELECT * FROM verdicts WHERE verdict IN ({marks})", chunk):
            out[r[0]] = _verdicts_row(r)
    return out


def _verdicts_row(r: tuple[Any, ...]) -> tuple[Any, ...]:
    """A verdict row as the fields of a :class:`JournalEntry` after id and time."""
    return entry_fields(r, 1)


def render_explanation(
    path: str | os.PathLike[str], decision_id: str, *, audience: str = "applicant"
) -> tuple[JournalEntry, str]:
    """The journaled decision ``decision_id`` and its text, rendered again as it was shown.

    ``path`` is the SQLite journal file or the PostgreSQL journal's DSN
    (:mod:`creditguard.journal_pg`, never shown in a message). The text comes
    from the decision's stored facts in its stored wording version, so it does
    not change when the wording is improved; it is always masked. Raises
    :class:`~creditguard.errors.InputError` for an unknown id,
    :class:`~creditguard.errors.StorageError` for a decision journaled before
    facts were recorded (SQLite layout 4 or older, a PostgreSQL row written
    before its ``facts`` column existed) and
    :class:`~creditguard.errors.ConfigError` naming a wording version this
    creditguard does not ship.
    """
    from creditguard.errors import InputError
    from creditguard.journal_pg import is_dsn, read_postgres_decision

    if is_dsn(path):
        found = read_postgres_decision(path, decision_id)
        if found is None:
            raise InputError(f"no decision {decision_id!r} in the PostgreSQL journal")
        entry, version, facts = found
        if not version or not facts:
            raise StorageError(
                f"decision {decision_id!r} was journaled before the PostgreSQL journal "
                "recorded the facts of its text: its text cannot be shown again"
            )
        decided_at = datetime.fromisoformat(entry.decided_at)
        return entry, _text(entry, decided_at, version, facts, audience)
    entry, decided_at, version, facts = _read_sqlite_decision(Path(path), decision_id)
    if not version or not facts:
        raise StorageError(
            f"decision {decision_id!r} was journaled before the journal recorded the facts "
            "of its text (layout 4 or older): its text cannot be shown again"
        )
    return entry, _text(entry, decided_at, version, facts, audience)


def _read_sqlite_decision(
    p: Path, decision_id: str
) -> tuple[JournalEntry, datetime, str | None, str | None]:
    """The decision ``decision_id`` of the journal file ``p``, its time, wording version and facts."""
    from creditguard.errors import InputError

    found: tuple[str, list[Any]] | None = None
    row: tuple[Any, ...] | None = None
    try:
        if p.exists():
            conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] >= _READABLE_FROM:
                    needle = json.dumps(decision_id)
                    rows = conn.execute(
                        "SELECT base_at, decisions FROM batches WHERE instr(decisions, ?) > 0",
                        (needle,),
                    )
                    for base_at, packed in rows:
                        for e in json.loads(packed):
                            if e[1] == decision_id:
                                found = (base_at, e)
                                break
                        if found:
                            break
                if found is not None:
                    row = conn.execute(
                        "SELECT * FROM verdicts WHERE verdict = ?", (found[1][0],)
                    ).fetchone()
            finally:
                conn.close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read decision journal {p}: {exc}") from exc
    if found is None or row is None:
        raise InputError(f"no decision {decision_id!r} in the journal {p}")
    base_at, e = found
    fields = _verdicts_row(row)
    decided_at = datetime.fromisoformat(base_at) + _US * e[2]
    subject = e[3] if len(e) > 3 else fields[0]
    entry = JournalEntry(decision_id, decided_at.isoformat(), subject, *fields[1:])
    version = row[18] if len(row) > 18 else None
    facts = row[19] if len(row) > 19 else None
    return entry, decided_at, version, facts


def _text(
    entry: JournalEntry, decided_at: datetime, version: str, facts: str, audience: str
) -> str:
    """The text of the journaled decision ``entry`` rendered from its ``facts``, masked."""
    from creditguard.errors import ConfigError
    from creditguard.explain import explain

    data = json.loads(facts)
    data.update(decision_id=entry.decision_id, subject_code=entry.subject, decided_at=decided_at)
    d = Decision.model_validate(data)
    try:
        text = explain(d, audience=audience)
    except ConfigError as exc:
        raise ConfigError(
            f"decision {entry.decision_id!r} was shown in wording version {version!r}, "
            f"which this creditguard does not ship ({exc})"
        ) from None
    return mask_text(text)
