"""A background thread that keeps delivering the outbox."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from types import TracebackType

from creditguard.errors import StorageError
from creditguard.forksafe import background_work
from creditguard.outbox._deliver import Attempt, Deliverer

__all__ = ["DeliveryWorker"]

log = logging.getLogger("creditguard.outbox")

_workers: weakref.WeakSet[DeliveryWorker] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for worker in list(_workers):
        worker._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class DeliveryWorker:
    """Delivers due items in a daemon thread until stopped.

    ``notify()`` wakes it at once (call it after enqueueing). ``expect(keys)``
    makes it watch, with cheap reads every ``watch_interval_s``, for items
    written through an integrator's connection: they appear with that
    transaction's commit, which no hook announces, and are delivered then.
    ``housekeeping`` (a callable) runs every ``housekeeping_interval_s`` while
    idle, its errors logged. ``stop()``
    drains: it keeps delivering what is due until nothing is, or until
    ``drain_timeout_s`` passes, then returns whether the backlog of due items
    was emptied. Items left behind stay in the outbox for the next start. In a
    forked child the thread does not exist: the worker is stopped there, and
    restarted when ``restart_after_fork`` is True.
    """

    def __init__(
        self,
        deliverer: Deliverer,
        *,
        poll_interval_s: float = 1.0,
        restart_after_fork: bool = False,
        name: str = "creditguard-outbox",
        watch_interval_s: float = 0.02,
        housekeeping: Callable[[], object] | None = None,
        housekeeping_interval_s: float = 300.0,
    ) -> None:
        self.deliverer = deliverer
        self.watch_interval_s = watch_interval_s
        self.housekeeping = housekeeping
        self.housekeeping_interval_s = housekeeping_interval_s
        # Storage work of a delivery runs inside the fork gate, the HTTP exchange outside it.
        deliverer.gate = background_work
        self.poll_interval_s = poll_interval_s
        self.restart_after_fork = restart_after_fork
        self.name = name
        self._init_state()
        _workers.add(self)

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._drain_deadline: float | None = None
        self._thread: threading.Thread | None = None
        self._drained = True
        self._expect_lock = threading.Lock()
        self._expected: dict[str, float] = {}  # key -> monotonic time to stop watching
        self._next_housekeeping = 0.0

    @property
    def running(self) -> bool:
        """True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (no-op when already running)."""
        with self._lock:
            if self.running:
                return
            self._stopping.clear()
            self._drain_deadline = None
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def notify(self) -> None:
        """Wake the worker: something was enqueued."""
        self._wake.set()

    def expect(self, keys: Sequence[str], *, within_s: float = 60.0) -> None:
        """Watch for ``keys`` (written in an open transaction) for ``within_s``; deliver them once committed.

        A rolled-back transaction's keys never appear and are forgotten after
        ``within_s``; a transaction that commits later than that is still
        delivered, by the next poll (``poll_interval_s``).
        """
        until = time.monotonic() + within_s
        with self._expect_lock:
            for key in keys:
                self._expected[key] = until
        self._wake.set()

    def _arrived(self) -> bool:
        """True when an expected key is now stored (and stop watching it)."""
        with self._expect_lock:
            now = time.monotonic()
            for key in [k for k, until in self._expected.items() if until <= now]:
                del self._expected[key]
            keys = list(self._expected)
        if not keys:
            return False
        try:
            with background_work():
                found = self.deliverer.outbox.present(keys)
        except StorageError:
            return False
        if not found:
            return False
        with self._expect_lock:
            for key in found:
                self._expected.pop(key, None)
        return True

    def _housekeep(self) -> None:
        if self.housekeeping is None or time.monotonic() < self._next_housekeeping:
            return
        self._next_housekeeping = time.monotonic() + self.housekeeping_interval_s
        try:
            self.housekeeping()
        except Exception:  # a report must never stop delivery
            log.exception("outbox worker: housekeeping failed")

    def stop(self, *, drain_timeout_s: float = 5.0) -> bool:
        """Deliver what is due for at most ``drain_timeout_s``, then stop; True when drained."""
        with self._lock:
            thread = self._thread
            if thread is None:
                return True
            self._drain_deadline = time.monotonic() + drain_timeout_s
            self._stopping.set()
            self._wake.set()
        thread.join(drain_timeout_s + 1.0)
        if thread.is_alive():
            log.warning(
                "outbox worker still busy after %.1f s; its item stays leased and will be retried",
                drain_timeout_s,
            )
            return False
        with self._lock:
            self._thread = None
        if self._drained and not self._past_deadline():
            # A write that committed while the thread was deciding to stop (e.g. through the
            # integrator's connection just before close) is delivered here, not left queued.
            try:
                self.deliverer.deliver_due(stop=self._past_deadline)
            except StorageError as exc:
                log.error("outbox worker cannot use the outbox at shutdown: %s", exc)
                return False
        return self._drained

    def __enter__(self) -> DeliveryWorker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _past_deadline(self) -> bool:
        deadline = self._drain_deadline
        return deadline is not None and time.monotonic() >= deadline

    def _run(self) -> None:
        failures = 0
        while True:
            if self._stopping.is_set() and self._past_deadline():
                self._drained = False
                return
            self._wake.clear()  # before looking, so a notify() during delivery is not lost
            try:
                attempts = self._deliver_some(100)
                failures = 0
            except StorageError as exc:
                failures += 1
                log.error("outbox worker cannot use the outbox: %s", exc)
                attempts = []
                self._wake.wait(min(30.0, 0.5 * 2**failures))
            except Exception:  # a bug must not silently end delivery for the process
                failures += 1
                log.exception("outbox worker: unexpected error")
                attempts = []
                self._wake.wait(min(30.0, 0.5 * 2**failures))
            if attempts:
                continue
            if self._stopping.is_set():
                self._drained = failures == 0
                return
            if self._arrived():
                continue
            self._housekeep()
            self._wake.wait(self._idle_wait())

    def _deliver_some(self, limit: int) -> list[Attempt]:
        # The deliverer holds the fork gate around each claim and mark only, so a fork
        # never waits for an HTTP exchange (up to its timeout).
        attempts: list[Attempt] = []
        while len(attempts) < limit and not self._past_deadline():
            attempt = self.deliverer.deliver_one()
            if attempt is None:
                break
            attempts.append(attempt)
        return attempts

    def _idle_wait(self) -> float:
        if self._expected:
            return self.watch_interval_s
        try:
            with background_work():
                due = self.deliverer.outbox.next_due_at()
        except StorageError:
            return self.poll_interval_s
        if due is None:
            return self.poll_interval_s
        return max(0.01, min(self.poll_interval_s, due - time.time()))

    def _after_fork(self) -> None:
        was_running = self._thread is not None
        self._init_state()
        # Runs in the child right after fork, before any thread exists: reset the outbox's
        # and the deliverer's per-process state here, so the restarted thread and the
        # caller never race each other to do it (or block on a lock a parent thread held).
        for part in (self.deliverer.outbox, self.deliverer):
            reset = getattr(part, "_reset_after_fork", None) or getattr(part, "_check_pid", None)
            if callable(reset):
                reset()
        if was_running and self.restart_after_fork:
            self.start()
