"""Keep creditguard's background threads out of SQLite and sockets while the process forks.

A pre-fork server (gunicorn, uWSGI) may fork while the journal writer or the
outbox worker is inside SQLite or an HTTP call. The child then inherits
locks held by a thread that does not exist there (SQLite's own mutexes among
them) and can deadlock on its first use. Background threads therefore do each
unit of work inside :func:`background_work`, and a fork waits, through an
``os.register_at_fork`` handler, until no such unit is running.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PerThread", "background_work"]

_gate = threading.Lock()


@contextmanager
def background_work() -> Iterator[None]:
    """Hold off a fork while one unit of background work runs (keep units short)."""
    gate = _gate
    with gate:
        yield


class PerThread:
    """Each thread's own state (a connection, say), which a forked child starts afresh.

    A child must never use its parent's SQLite handle or socket: ``get()``
    gives a new, empty ``threading.local`` the first time it is called in a
    new process.
    """

    __slots__ = ("_local", "_pid")

    def __init__(self) -> None:
        self._local = threading.local()
        self._pid = os.getpid()

    def get(self) -> threading.local:
        """This thread's state in this process."""
        if self._pid != os.getpid():
            self._local = threading.local()
            self._pid = os.getpid()
        return self._local


def _before_fork() -> None:
    _gate.acquire()


def _after_fork_in_parent() -> None:
    _gate.release()


def _after_fork_in_child() -> None:
    global _gate
    _gate = threading.Lock()  # the child has no background thread yet: a fresh, open gate


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
