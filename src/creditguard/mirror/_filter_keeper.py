"""Keeping a SQLite mirror's membership filter current, per mirror object and thread.

The filter itself (a Bloom filter of the codes held, and the triggers that log
every code written) is :mod:`creditguard.mirror._filter`. This module decides
when a lookup may use it: current for everything the reading connection can
see, built inline for a small mirror, in a background thread for a large one
(lookups use SQL meanwhile), retried after a failure, thrown away for another
file or epoch. :class:`FilterKeeper` is a base of
:class:`~creditguard.mirror.store.SqliteMirror`, so a lookup calls these
methods on the mirror itself (no extra object per lookup).
"""

from __future__ import annotations

import logging
import mmap
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from creditguard.mirror import _filter

__all__ = ["FilterKeeper"]

#: After a failed filter build, lookups use SQL alone this long before another try.
_FILTER_RETRY_S: Final = 30.0
#: Up to this many records, the first lookup builds the filter itself (a few ms per
#: 10,000); a larger mirror's is built by a background thread while lookups use SQL.
_FILTER_INLINE_RECORDS: Final = 100_000

log = logging.getLogger("creditguard.mirror")


#: The two copies of the WAL-index header (https://www.sqlite.org/walformat.html, 2.2).
_WAL_HEADERS: Final = 96
_WAL_INDEX_VERSION: Final = 3007000
#: How long the mapped header alone decides; then SQLite is asked once (see _current_filter).
_WAL_INDEX_TRUST_S: Final = 1.0


def wal_index(path: Path) -> mmap.mmap | None:
    """The mirror's WAL-index headers, mapped read-only; None when not in WAL mode here.

    Every commit, by any connection of any process, rewrites both copies of
    the header (its change counter, frame count and checksums) before
    readers can see it, so 96 unchanged bytes mean nothing was committed
    since they were last read: a read of shared memory (≈0.1 µs) instead of
    ``PRAGMA data_version`` (a statement, ≈3 µs) on every lookup. A header
    in the middle of an update differs too, and only costs the usual catch-up
    in SQL. Called after this thread's connection has read the mirror (so
    SQLite holds the ``-shm`` file open, and keeps it while connected).
    Anything unexpected (no ``-shm`` file: not WAL; another header version)
    gives None, and ``data_version`` is used.
    """
    try:
        with open(f"{path}-shm", "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), _WAL_HEADERS, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    # iVersion (native byte order) and isInit of the first copy.
    if int.from_bytes(mapped[:4], sys.byteorder) != _WAL_INDEX_VERSION or mapped[12] != 1:
        mapped.close()
        return None
    return mapped


class FilterKeeper:
    """The membership filter of a mirror object, shared by its threads."""

    path: Path
    #: Commits through this object: a write on a reader's own connection does not
    #: change that connection's data_version, so the filter's readers count these too.
    _writes: int

    if TYPE_CHECKING:  # provided by SqliteMirror

        def _thread(self) -> threading.local: ...

        def _identity(self) -> tuple[int, int] | None: ...

        def _connection(self, *, create: bool) -> sqlite3.Connection: ...

    def _init_filter(self) -> None:
        self._filter: _filter.CodeFilter | None = None
        self._filter_lock = threading.Lock()
        self._filter_building = 0  # pid of the process whose thread builds it
        self._filter_retry_at = 0.0

    def _current_filter(
        self, conn: sqlite3.Connection
    ) -> tuple[_filter.CodeFilter, tuple[float | None, bool]] | None:
        """The filter, current for everything ``conn`` can see, and the load state; None: use SQL.

        Current means: nothing was committed since this connection last
        checked (``data_version`` and this object's write count unchanged),
        or the codes logged since have been added now.
        """
        local = self._thread()
        writes = self._writes
        shm = getattr(local, "shm", None)
        if shm is not None and time.monotonic() < local.shm_until:
            version: object = shm[:_WAL_HEADERS]
        else:
            if shm is not None:
                # Once a second, SQLite itself is asked and the header mapped afresh:
                # defence in depth, should data ever change without this mapping seeing it
                # (a -shm file replaced under us; a writer in exclusive locking mode is
                # refused by SQLite while this connection is open — tried).
                shm.close()
                local.shm = shm = None
            (version,) = conn.execute("PRAGMA data_version").fetchone()
        f = self._filter
        if f is not None and getattr(local, "filter_seen", None) == (f, version, writes):
            state: tuple[float | None, bool] = local.filter_state
            return f, state
        with self._filter_lock:
            f = self._filter
            if f is None or f.ident != local.ident or not _filter.catch_up(conn, f):
                self._filter = None
                local.filter_seen = None
                (size,) = conn.execute("SELECT max(rowid) FROM records").fetchone()
                if (size or 0) > _FILTER_INLINE_RECORDS:
                    self._build_filter_later()
                    return None
            if self._filter is None:
                self._filter = f = self._built_filter(conn, local.ident)
            if f is None:
                return None
            row = conn.execute(
                "SELECT loaded_at, synced_at IS NOT NULL FROM mirror_state"
            ).fetchone()
            local.filter_state = (row[0], bool(row[1])) if row is not None else (None, False)
            # The filter object in the key: a rebuilt one (or another file's) is checked again.
            local.filter_seen = (f, version, writes)
            if shm is None and getattr(local, "shm", None) is None:
                local.shm = wal_index(self.path)  # from the next lookup on
                local.shm_until = time.monotonic() + _WAL_INDEX_TRUST_S
            return f, local.filter_state

    def load_filter(self) -> None:
        """Build the membership filter now, in this thread (else the first lookups start it in the background).

        Until it is built, lookups read SQLite for every code; the answers are
        the same either way.
        """
        self._connection(create=False)  # the file exists, and has the filter's tables
        self._filter_retry_at = 0.0
        self._build_filter(os.getpid())

    def _build_filter_later(self) -> None:
        pid = os.getpid()
        if self._filter_building == pid or time.monotonic() < self._filter_retry_at:
            return
        self._filter_building = pid
        threading.Thread(
            target=self._build_filter, args=(pid,), name="creditguard-mirror-filter", daemon=True
        ).start()

    def _built_filter(self, conn: sqlite3.Connection, ident: object) -> _filter.CodeFilter | None:
        """A filter of what ``conn`` sees now, built in this thread; None when that fails."""
        if time.monotonic() < self._filter_retry_at:
            return None
        try:
            if conn.in_transaction:
                return _filter.build(conn, ident)
            conn.execute("BEGIN")  # one snapshot: the log position and the tables agree
            try:
                return _filter.build(conn, ident)
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._filter_retry_at = time.monotonic() + _FILTER_RETRY_S
            log.warning("mirror %s: membership filter not built: %s", self.path, exc)
            return None

    def _build_filter(self, pid: int) -> None:
        try:
            ident = self._identity()
            uri = self.path.absolute().as_uri() + "?mode=rw"  # never creates the file
            conn = sqlite3.connect(uri, uri=True, timeout=10.0, isolation_level=None)
            try:
                conn.execute("BEGIN")  # one snapshot: the log position and the tables agree
                built = _filter.build(conn, ident)
                conn.execute("COMMIT")
            finally:
                conn.close()
            with self._filter_lock:
                if self._identity() == ident and os.getpid() == pid:
                    self._filter = built
        except (OSError, sqlite3.Error) as exc:  # lookups go on with SQL alone
            self._filter_retry_at = time.monotonic() + _FILTER_RETRY_S
            log.warning("mirror %s: membership filter not built: %s", self.path, exc)
        finally:
            self._filter_building = 0
