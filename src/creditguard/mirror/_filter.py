"""A membership filter of the codes a SQLite mirror holds: most subjects are clean.

A clean subject's lookup is answered without SQL when the filter says the
mirror holds nothing for its code. The filter is a Bloom filter: it may say
"maybe" for a code the mirror does not hold (a false positive costs one SQL
lookup), never "no" for one it holds. That is kept so:

- Triggers in the mirror file append every code written (a subject, its
  legal representative, a record's subject) to ``mirror_codes_log``, whoever
  writes: this process, another one, an older creditguard, the sqlite3 shell.
- A filter is built from the tables (in a background thread; lookups use SQL
  until it is ready) after noting the log's last ``seq`` and the mirror's
  ``epoch``; anything committed later is in the log after that ``seq``.
- Before each lookup the reader compares the WAL-index headers in shared
  memory (every commit of any connection rewrites them; ``PRAGMA
  data_version`` when they cannot be read, see ``_filter_keeper.wal_index``)
  and the mirror object's own write count; when either moved, it reads the
  log from its ``seq`` on.
- An import replaces the log (it bumps ``epoch`` and empties the log in its
  transaction), so a filter of another epoch, or of another file (a replaced
  or deleted file has another inode), is thrown away and built again.

Removed codes stay in the filter (a Bloom filter cannot forget): they only
cost a lookup, and records are kept as tombstones anyway.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Final

__all__ = ["SCHEMA", "CodeFilter", "build", "catch_up", "position"]

#: Bits per expected code and probes per code: ≈ 1 % false positives at capacity.
_BITS_PER_CODE: Final = 12
_PROBES: Final = 3

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS mirror_codes_log (seq INTEGER PRIMARY KEY, code TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mirror_filter_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS mirror_codes_subject_in AFTER INSERT ON subjects BEGIN
    INSERT INTO mirror_codes_log(code) VALUES (NEW.code);
    INSERT INTO mirror_codes_log(code) SELECT NEW.legal_rep WHERE NEW.legal_rep IS NOT NULL;
END;
CREATE TRIGGER IF NOT EXISTS mirror_codes_subject_up AFTER UPDATE OF code, legal_rep ON subjects
BEGIN
    INSERT INTO mirror_codes_log(code) VALUES (NEW.code);
    INSERT INTO mirror_codes_log(code) SELECT NEW.legal_rep WHERE NEW.legal_rep IS NOT NULL;
END;
CREATE TRIGGER IF NOT EXISTS mirror_codes_record_in AFTER INSERT ON records BEGIN
    INSERT INTO mirror_codes_log(code) VALUES (NEW.subject_code);
END;
CREATE TRIGGER IF NOT EXISTS mirror_codes_record_up AFTER UPDATE OF subject_code ON records BEGIN
    INSERT INTO mirror_codes_log(code) VALUES (NEW.subject_code);
END;
"""

#: Run by an import inside its transaction, after its writes: the tables now say it all.
NEW_EPOCH: Final = (
    "DELETE FROM mirror_codes_log",
    "INSERT INTO mirror_filter_state(id, epoch) VALUES (1, 1) "
    "ON CONFLICT(id) DO UPDATE SET epoch = epoch + 1",
)

_POSITION = (
    "SELECT (SELECT epoch FROM mirror_filter_state), (SELECT max(seq) FROM mirror_codes_log)"
)
_ALL_CODES = (
    "SELECT code FROM subjects UNION ALL SELECT subject_code FROM records "
    "UNION ALL SELECT legal_rep FROM subjects WHERE legal_rep IS NOT NULL"
)


class CodeFilter:
    """A Bloom filter of codes, with the log position and file it is current for."""

    __slots__ = ("_bits", "_mask", "capacity", "count", "epoch", "ident", "seq")

    def __init__(self, capacity: int, *, epoch: int, seq: int, ident: object) -> None:
        nbits = 1 << 13
        while nbits < capacity * _BITS_PER_CODE:
            nbits <<= 1
        self._bits = bytearray(nbits >> 3)
        self._mask = nbits - 1
        self.capacity = max(capacity, nbits // _BITS_PER_CODE)
        self.count = 0
        self.epoch = epoch
        self.seq = seq
        self.ident = ident

    def add(self, code: str) -> None:
        """Remember ``code`` as held."""
        h = hash(code)
        step = (h >> 32) | 1
        bits, mask = self._bits, self._mask
        for i in range(_PROBES):
            p = (h + i * step) & mask
            bits[p >> 3] |= 1 << (p & 7)
        self.count += 1

    def update(self, codes: Iterable[str]) -> None:
        """Remember every code of ``codes``."""
        for code in codes:
            self.add(code)

    def might_hold(self, code: str) -> bool:
        """False only when ``code`` was never added; True may be a false positive."""
        h = hash(code)
        bits, mask = self._bits, self._mask
        p = h & mask
        if not bits[p >> 3] & (1 << (p & 7)):
            return False
        step = (h >> 32) | 1
        p = (h + step) & mask
        if not bits[p >> 3] & (1 << (p & 7)):
            return False
        p = (h + 2 * step) & mask
        return bool(bits[p >> 3] & (1 << (p & 7)))

    @property
    def full(self) -> bool:
        """Past its capacity: false positives grow; build a larger one."""
        return self.count > self.capacity


def position(conn: sqlite3.Connection) -> tuple[int, int]:
    """The mirror's filter epoch and the log's last ``seq`` (0 when absent)."""
    epoch, seq = conn.execute(_POSITION).fetchone()
    return int(epoch or 0), int(seq or 0)


def build(conn: sqlite3.Connection, ident: object) -> CodeFilter:
    """A filter of every code held now (read the position first: later writes are in the log)."""
    epoch, seq = position(conn)
    (n,) = conn.execute(
        "SELECT (SELECT count(*) FROM subjects) + (SELECT count(*) FROM records)"
    ).fetchone()
    f = CodeFilter(max(2 * int(n), 4096), epoch=epoch, seq=seq, ident=ident)
    f.update(row[0] for row in conn.execute(_ALL_CODES))
    return f


def catch_up(conn: sqlite3.Connection, f: CodeFilter) -> bool:
    """Add the codes logged since ``f`` was current; False when ``f`` must be built again."""
    epoch, seq = position(conn)
    if epoch != f.epoch or seq < f.seq:
        return False
    if seq > f.seq:
        f.update(
            row[0]
            for row in conn.execute(
                "SELECT code FROM mirror_codes_log WHERE seq > ? AND seq <= ?", (f.seq, seq)
            )
        )
        f.seq = seq
    return not f.full
