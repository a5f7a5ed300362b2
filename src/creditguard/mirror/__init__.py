"""The local mirror: credit records in a SQLite file (source type ``mirror``).

:class:`SqliteMirror` stores and answers lookups (:mod:`creditguard.mirror.store`);
import lines are checked by :mod:`creditguard.mirror.lines` and written by
:mod:`creditguard.mirror.importer`.
"""

from __future__ import annotations

from creditguard.mirror.importer import ImportRefused, ImportReport, LinkChange
from creditguard.mirror.store import DEFAULT_MAX_AGE_S, MirrorStats, SqliteMirror

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "ImportRefused",
    "ImportReport",
    "LinkChange",
    "MirrorStats",
    "SqliteMirror",
]
