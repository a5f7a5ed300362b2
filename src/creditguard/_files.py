"""Owner-only data files: the journal, outbox, mirror and sync state hold personal data.

SQLite creates a new database file with the process umask (usually 0644:
readable by every local user) but gives its ``-wal``, ``-shm`` and
``-journal`` files the permissions of the database file itself. So creating
the database file ourselves, empty and 0600, before SQLite first opens it makes
the whole set owner-only without touching the process-wide umask (which would
race with other threads). New folders are created 0700. Existing files keep
the mode an operator gave them.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "prepare_private_file"]

#: Mode of a data file creditguard creates (owner read/write only).
FILE_MODE = 0o600
#: Mode of a data folder creditguard creates (owner only).
DIR_MODE = 0o700


def prepare_private_file(path: str | os.PathLike[str]) -> Path:
    """Create ``path``'s missing folders (0700) and the file itself, empty, 0600.

    An existing file is left as it is. In-memory SQLite names (``:memory:``,
    ``file:`` URIs) are returned untouched. Raises :class:`OSError` when a
    folder or the file cannot be created; callers turn it into their own
    :class:`~creditguard.errors.StorageError`.
    """
    p = Path(path)
    name = os.fspath(path)
    if name == ":memory:" or name.startswith("file:") or name == "":
        return p
    p.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    try:
        # O_EXCL: never change a file someone else created meanwhile; the mode
        # argument is still reduced by the umask, which only ever removes bits.
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return p
    os.close(fd)
    return p
