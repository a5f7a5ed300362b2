"""The local mirror: credit records in a SQLite file or PostgreSQL (source type ``mirror``).

:class:`SqliteMirror` stores and answers lookups (:mod:`creditguard.mirror.store`);
:class:`PostgresMirror` does the same in a database shared by several hosts;
import lines are checked by :mod:`creditguard.mirror.lines` and written by
:mod:`creditguard.mirror.importer`.
"""

from __future__ import annotations

from creditguard.mirror._postgres import FeedBusy, PostgresMirror, is_postgres_dsn
from creditguard.mirror.importer import ImportRefused, ImportReport, LinkChange
from creditguard.mirror.store import DEFAULT_MAX_AGE_S, MirrorStats, SqliteMirror

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "FeedBusy",
    "ImportRefused",
    "ImportReport",
    "LinkChange",
    "MirrorStats",
    "PostgresMirror",
    "SqliteMirror",
    "is_postgres_dsn",
]
