"""Cases around workflow steps: initiate when a check applies measures, feed back after.

:class:`CaseDesk` is what a guard uses when ``[outbox]`` is on: a
:class:`~creditguard.cases.CaseRecorder` on the configured outbox, the book
of platform-initiated cases, and (optionally) a background delivery worker
sending through the configured platform's channel (:mod:`creditguard.channels`,
built by the platform's adapter). The guards' ``step`` decorator, ``checked``
context manager and ``feedback`` call go through it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from creditguard.errors import ConfigError, CreditGuardError

if TYPE_CHECKING:
    import httpx
    import pluggy

    from creditguard.cases import CaseRecorder, OpenCase
    from creditguard.config import Config
    from creditguard.models import CreditRecord, Decision
    from creditguard.outbox import DeliveryWorker, Outbox, OutboxItem

__all__ = [
    "CaseDesk",
    "StepDenied",
    "case_book_path",
    "open_case_desk",
    "outbox_enabled",
    "outbox_target",
]

log = logging.getLogger("creditguard.case_desk")


class StepDenied(CreditGuardError):
    """A guarded step was not run because the decision is ``deny``; ``decision`` says why."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        codes = ", ".join(m.code for m in decision.measures)
        super().__init__(
            f"{decision.subject_display} may not pass {decision.step} in {decision.region} "
            f"(measures {codes}; decision {decision.decision_id})"
        )


class CaseDesk:
    """Initiates cases and records feedback durably; remembers which case a decision opened.

    With a ``workflow_ref`` (the integrator's application reference) the case
    is the application's for the step, found again by any process after a
    crash (:meth:`open_case`, :meth:`resume`). A case with no feedback
    ``feedback_due_s`` after it was opened is overdue (:meth:`overdue`).
    """

    def __init__(
        self,
        recorder: CaseRecorder,
        outbox: Outbox,
        worker: DeliveryWorker | None,
        *,
        drain_timeout: float = 5.0,
        feedback_due_s: float = 86400.0,
    ) -> None:
        self.recorder = recorder
        self.outbox = outbox
        self.worker = worker
        self.drain_timeout = drain_timeout
        self.feedback_due_s = feedback_due_s
        # Decision id -> case id this process opened; bounded, least recently used out
        # (cachetools caches are not thread-safe: used under the lock).
        self._cases: LRUCache[str, str] = LRUCache(100_000)
        self._lock = threading.Lock()

    def _remember(self, decision: Decision, case_id: str) -> None:
        with self._lock:
            self._cases[decision.decision_id] = case_id

    def opened(self, decision: Decision, *, workflow_ref: str | None = None) -> str | None:
        """Initiate the case of a decision that applied measures (durable before returning).

        With ``workflow_ref`` a retry of the application's step reuses the
        case already written (see :meth:`CaseRecorder.initiate`), and a
        decision that applies no measure any more closes the application's
        open case with ``not_applied``.
        """
        if not decision.measures and workflow_ref is None:
            return None
        case_id = self.recorder.initiate(decision, workflow_ref=workflow_ref)
        if case_id is not None:
            self._remember(decision, case_id)
        return case_id

    def adopt(self, decision: Decision, case_id: str) -> None:
        """Take ``case_id`` as the case ``decision`` opened, in another process or before a restart.

        The decision service's feedback token carries the case its check
        opened; adopting it makes the feedback go to that case rather than
        initiate one from the feedback's own ``workflow_ref``.
        """
        self._remember(decision, case_id)

    def _known(self, decision: Decision) -> str | None:
        with self._lock:
            found: str | None = self._cases.get(decision.decision_id)
        return found

    def case_of(self, decision: Decision, *, workflow_ref: str | None = None) -> str:
        """The case a decision opened (initiating it now if this process has not)."""
        found = self._known(decision)
        if found is not None:
            return found
        case_id = self.opened(decision, workflow_ref=workflow_ref)
        if case_id is None:
            raise ConfigError(
                f"decision {decision.decision_id} applied no measure: there is no case to feed back"
            )
        return case_id

    def feedback(
        self,
        decision: Decision,
        *,
        actions: Mapping[str, str | tuple[str, str]] | None = None,
        detail: str = "",
        workflow_ref: str | None = None,
        current_records: Mapping[str, CreditRecord] | None = None,
        connection: Any = None,
    ) -> list[OutboxItem]:
        """One feedback entry per applied measure, written durably.

        With ``connection``, a case this process has not initiated is initiated
        through that connection too, so it commits (or rolls back) with the
        feedback rather than waiting on the integrator's open write transaction.
        """
        if not decision.measures:
            return []
        if connection is not None and self._known(decision) is None:
            case_id = self.recorder.initiate(
                decision, workflow_ref=workflow_ref, connection=connection
            )
            if case_id is None:  # pragma: no cover - a decision with measures always has a case
                raise ConfigError(f"decision {decision.decision_id} opened no case")
        else:
            case_id = self.case_of(decision, workflow_ref=workflow_ref)
        return self.recorder.feedback(
            case_id,
            decision,
            actions=actions,
            detail=detail,
            workflow_ref=workflow_ref,
            current_records=current_records,
            connection=connection,
        )

    def open_case(self, *, application: str, step: str) -> OpenCase | None:
        """The case of ``application``'s ``step`` still waiting for feedback, or None."""
        found = self.recorder.open_cases(application=application, step=step)
        return found[-1] if found else None

    def resume(
        self,
        *,
        application: str,
        step: str,
        actions: Mapping[str, str | tuple[str, str]] | None = None,
        detail: str = "",
        connection: Any = None,
    ) -> list[OutboxItem]:
        """Feed back the open case of ``application``'s ``step`` (after a crash); [] when none is open."""
        case = self.open_case(application=application, step=step)
        if case is None:
            return []
        return self.recorder.feed_back_case(
            case, actions=actions, detail=detail, connection=connection
        )

    def overdue(self, *, now: float | None = None, limit: int = 100) -> list[OpenCase]:
        """Cases opened more than ``feedback_due_s`` ago that have no feedback, oldest first."""
        cutoff = (time.time() if now is None else now) - self.feedback_due_s
        return self.recorder.open_cases(opened_before=cutoff, limit=limit)

    def warn_overdue(self, *, now: float | None = None) -> int:
        """Log a warning naming overdue cases (at most 5 ids); returns how many there are."""
        cutoff = (time.time() if now is None else now) - self.feedback_due_s
        n = self.outbox.count_unfed(opened_before=cutoff)
        if n:
            first = [c.case_id for c in self.recorder.open_cases(opened_before=cutoff, limit=5)]
            log.warning(
                "%d case(s) applied measures and have no feedback after %.0f s (first: %s); "
                "resume them (guard.resume / creditguard outbox open --feed-back) or feed them back",
                n,
                self.feedback_due_s,
                ", ".join(first),
            )
        return n

    def close(self) -> None:
        """Drain and stop the delivery worker, then close the outbox."""
        if self.worker is not None:
            drained = self.worker.stop(drain_timeout_s=self.drain_timeout)
            if not drained:
                log.warning(
                    "outbox not drained at shutdown; undelivered items stay queued for later"
                )
        self.outbox.close()


def outbox_enabled(config: Config) -> bool:
    """Whether ``[outbox]`` is on: as set, else on when ``[guard] unit_code`` is set."""
    cfg = config.outbox
    return cfg.enabled if cfg.enabled is not None else bool(config.guard.unit_code)


def outbox_target(config: Config) -> str:
    """The outbox the configuration names: a SQLite path (resolved) or a PostgreSQL DSN.

    ``[outbox] path`` relative to the config file's folder, default
    ``<data_dir>/outbox.db``; ``postgresql://`` / ``postgres://`` DSNs as given.
    """
    target = config.outbox.path
    if target is None:
        return str(config.data_dir / "outbox.db")
    from creditguard.journal_pg import is_dsn

    if is_dsn(target):
        return target
    return str(config.path(target))


def case_book_path(config: Config) -> Path:
    """The book of platform-initiated cases: ``<data_dir>/platform-cases.db``."""
    return config.data_dir / "platform-cases.db"


def open_case_desk(
    config: Config,
    pm: pluggy.PluginManager | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> CaseDesk | None:
    """The case desk the configuration asks for, or None when the outbox is off.

    With ``[outbox] deliver`` on, the worker delivers through the channel the
    platform's adapter builds from its ``[[sources]]`` entry (see
    :func:`creditguard.channels.open_channel`; ``pm`` is the guard's plugin
    manager). No channel installed or configured: items wait in the outbox
    for ``creditguard outbox flush`` elsewhere.
    """
    if not outbox_enabled(config):
        return None
    if not config.guard.unit_code:
        raise ConfigError(
            "[outbox] is enabled but [guard] unit_code is not set: cases need this unit's code"
        )
    from creditguard.cases import CaseRecorder, SqliteCaseBook
    from creditguard.channels import open_channel
    from creditguard.outbox import Deliverer, DeliveryWorker, open_outbox

    cfg = config.outbox
    channel = open_channel(config, pm) if cfg.deliver else None
    outbox = open_outbox(outbox_target(config))
    worker = None
    if channel is not None:
        deliverer = Deliverer(outbox, channel, transport=transport, lease_s=cfg.lease_s)
        worker = DeliveryWorker(deliverer, restart_after_fork=True)
    book = SqliteCaseBook(case_book_path(config))
    recorder = CaseRecorder(
        outbox,
        config.guard.unit_code,
        book=book,
        notify=worker.notify if worker is not None else None,
        expect=worker.expect if worker is not None else None,
    )
    desk = CaseDesk(
        recorder,
        outbox,
        worker,
        drain_timeout=cfg.drain_timeout_s,
        feedback_due_s=cfg.feedback_due_s,
    )
    if worker is not None:
        # The worker logs overdue feedback at start and every few minutes while idle.
        worker.housekeeping = desk.warn_overdue
        worker.start()
    else:
        try:
            desk.warn_overdue()
        except CreditGuardError as exc:  # a report must never stop the guard from starting
            log.warning("cannot look for overdue feedback: %s", exc)
    return desk
