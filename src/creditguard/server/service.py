"""The service's state: one guard per implementing unit, recent decisions, readiness.

Each unit's guard is built from that unit's own configuration file, whose
``[guard] unit_code`` must be the unit's code, so its cases go out through
its own platform source and key. Decisions made by ``/v1/check`` are kept
(the most recent ``decisions_kept``) so ``/v1/feedback`` can name one by id;
only the unit that made a decision may feed it back.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from creditguard.case_desk import CaseDesk
from creditguard.codes import org_code_check_char, uscc_check_char
from creditguard.config import load_config
from creditguard.errors import ConfigError, CreditGuardError
from creditguard.guard import Guard
from creditguard.models import Decision
from creditguard.server.auth import Authenticator
from creditguard.server.config import ServiceConfig, UnitConfig
from creditguard.server.metrics import OutboxFigures, ServiceMetrics
from creditguard.server.schemas import UnitReadiness
from creditguard.server.tokens import FeedbackTokens, OpenedToken
from creditguard.sources import HttpSource

__all__ = ["DecisionStore", "Service", "UnitRuntime", "feedback_awaited"]

log = logging.getLogger("creditguard.server")

#: A source failure seen in a decision this recently makes the unit degraded.
RECENT_FAILURE_S = 60.0
#: Outbox items waiting longer than this make the unit degraded.
BACKLOG_AGE_S = 900.0


def _probe_code() -> str:
    # A well-formed code nobody holds: reading it exercises a local source's freshness rules.
    body = "PR0BE000"
    first17 = "91" + "000000" + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


PROBE_CODE = _probe_code()


class DecisionStore:
    """The most recent decisions by id, as issued to the client; thread-safe, bounded."""

    def __init__(self, maxsize: int) -> None:
        self._items: OrderedDict[str, OpenedToken] = OrderedDict()
        self._max = maxsize
        self._lock = threading.Lock()

    def put(
        self,
        unit: str,
        d: Decision,
        *,
        case_id: str | None = None,
        workflow_ref: str | None = None,
    ) -> None:
        """Remember ``d`` as made for ``unit`` (with the case it opened and its application)."""
        issued = OpenedToken(unit, d, time.time(), case_id=case_id, workflow_ref=workflow_ref)
        with self._lock:
            self._items[d.decision_id] = issued
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def get(self, decision_id: str) -> OpenedToken | None:
        """What was issued for ``decision_id`` (as a token would carry it), or None when unknown."""
        with self._lock:
            return self._items.get(decision_id)


def feedback_awaited(desk: CaseDesk, *, now: float) -> tuple[int, int]:
    """(cases with no feedback yet, those of them past ``[outbox] feedback_due_s``)."""
    return (
        desk.outbox.count_unfed(opened_before=math.inf),
        desk.outbox.count_unfed(opened_before=now - desk.feedback_due_s),
    )


@dataclass
class UnitRuntime:
    """One unit: its settings, its guard, and the last time each source failed in a decision."""

    config: UnitConfig
    guard: Guard
    failed_at: dict[str, float] = field(default_factory=dict)

    def noted(self, d: Decision) -> None:
        """Remember which sources failed in ``d`` (for readiness)."""
        now = time.monotonic()
        for p in d.provenance:
            if p.error is not None:
                self.failed_at[p.source] = now
            else:
                self.failed_at.pop(p.source, None)

    def remote_sources(self) -> list[str]:
        """Names of the unit's remote (HTTP) sources."""
        return [n for n, src in self.guard.sources.items() if isinstance(src, HttpSource)]

    def breakers(self) -> dict[str, str]:
        """The circuit-breaker state of each remote source (closed until first used)."""
        # The driver is created on the first remote lookup; before it, nothing has tripped.
        driver: Any = getattr(self.guard, "_driver", None)
        return {
            name: driver.breaker(name).state if driver is not None else "closed"
            for name in self.remote_sources()
        }

    def outbox_figures(self) -> OutboxFigures | None:
        """The unit's outbox backlog and cases awaiting feedback, or None when it has none."""
        desk = self.guard.cases
        if desk is None:
            return None
        now = time.time()
        st = desk.outbox.status(now=now)
        awaiting, overdue = feedback_awaited(desk, now=now)
        return OutboxFigures(st.pending, st.dead, awaiting, overdue)

    def readiness(self) -> UnitReadiness:
        """Sources, breakers, outbox backlog and measure lists of this unit."""
        problems: list[str] = []
        unavailable = False
        sources: dict[str, str] = {}
        http = set(self.remote_sources())
        now = time.monotonic()
        breakers = self.breakers()
        for name, src in self.guard.sources.items():
            if name in http:
                failed = self.failed_at.get(name)
                if breakers.get(name) != "closed":
                    sources[name] = f"breaker {breakers.get(name)}"
                elif failed is not None and now - failed < RECENT_FAILURE_S:
                    sources[name] = "failed in a recent check"
                else:
                    sources[name] = "ok"
                continue
            try:
                src.lookup([PROBE_CODE])  # type: ignore[union-attr]
                sources[name] = "ok"
            except CreditGuardError as exc:
                sources[name] = f"failing: {exc}"
            except Exception as exc:  # a broken local store: report, never crash the probe
                sources[name] = f"failing: {type(exc).__name__}"
        for name, state in sources.items():
            if state != "ok":
                problems.append(f"source {name}: {state}")
        pending = dead = None
        desk = self.guard.cases
        if desk is not None:
            try:
                st = desk.outbox.status(now=time.time())
                pending, dead = st.pending, st.dead
                if st.dead:
                    problems.append(f"outbox: {st.dead} dead letters")
                if st.oldest_pending_age_s is not None and st.oldest_pending_age_s > BACKLOG_AGE_S:
                    problems.append(f"outbox: oldest item waiting {st.oldest_pending_age_s:.0f} s")
            except CreditGuardError as exc:
                problems.append(f"outbox: {exc}")
        versions: dict[str, str | None] = {}
        today = self.guard.engine.today()
        for region in self.config.regions:
            if not region.isdigit():
                continue  # a glob: nothing single to resolve
            try:
                resolved = self.guard.catalog.resolve(region, today)
                versions[region] = f"{resolved.region} {resolved.version}"
            except ConfigError as exc:
                versions[region] = None
                problems.append(str(exc))
                unavailable = True
        status = "unavailable" if unavailable else ("degraded" if problems else "healthy")
        return UnitReadiness(
            unit_code=self.config.code,
            status=status,
            problems=problems,
            sources=sources,
            breakers=breakers,
            outbox_pending=pending,
            outbox_dead=dead,
            list_versions=versions,
        )


class Service:
    """Everything the app needs: units, credentials, decisions, figures."""

    def __init__(self, config: ServiceConfig, units: dict[str, UnitRuntime]) -> None:
        self.config = config
        self.units = units
        self.auth = Authenticator(config)
        self.decisions = DecisionStore(config.server.decisions_kept)
        self.tokens = FeedbackTokens(
            config.server.feedback_secret(), max_age_s=config.server.feedback_token_days * 86400
        )
        if self.tokens.ephemeral:
            log.warning(
                "no [server] feedback_key_env: feedback tokens are sealed with a random key of "
                "this process and die with it; set one shared by every worker"
            )
        self.metrics = ServiceMetrics()
        for code, unit in units.items():
            self.metrics.watch_unit(code, _gauges(unit))

    @classmethod
    def from_config(cls, config: ServiceConfig, **guard_options: Any) -> Service:
        """Build every unit's guard (``guard_options`` go to :class:`Guard`, e.g. ``transport``).

        Raises :class:`~creditguard.errors.ConfigError` when a unit's file is
        wrong or names another unit code, and for a missing credential secret.
        """
        built: dict[str, UnitRuntime] = {}
        try:
            for unit in config.units:
                path = config.unit_config_path(unit)
                cfg = load_config(path, required=True)
                if cfg.guard.unit_code != unit.code:
                    raise ConfigError(
                        f"unit {unit.code}: {path} has [guard] unit_code = "
                        f"{cfg.guard.unit_code!r}; each unit's file must carry its own code"
                    )
                built[unit.code] = UnitRuntime(unit, Guard(cfg, **guard_options))
            return cls(config, built)
        except BaseException:
            for rt in built.values():
                rt.guard.close()
            raise

    def close(self) -> None:
        """Close every guard (journal flushed, outbox worker drained)."""
        for rt in self.units.values():
            try:
                rt.guard.close()
            except Exception:  # one unit's failure to close must not keep the others open
                log.exception("closing unit %s", rt.config.code)


def _gauges(unit: UnitRuntime) -> Any:
    def read() -> tuple[dict[str, str], OutboxFigures | None]:
        return unit.breakers(), unit.outbox_figures()

    return read
