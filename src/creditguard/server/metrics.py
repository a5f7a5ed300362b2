"""``/metrics`` in the Prometheus text format.

Counters and the latency histogram are updated as requests are served;
breaker states and outbox backlogs are read when scraped (a collector), so
they are never out of date. Each app has its own registry, so two services in
one process (tests) do not share figures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from creditguard.models import Decision

__all__ = ["CONTENT_TYPE", "OutboxFigures", "ServiceMetrics", "UnitGauges"]

log = logging.getLogger("creditguard.server")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BREAKER_VALUE = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


class OutboxFigures(NamedTuple):
    """A unit's outbox at a scrape: backlog, dead letters, cases awaiting feedback, overdue ones."""

    pending: int
    dead: int
    awaiting_feedback: int
    feedback_overdue: int


#: What a scrape reads per unit: breaker state by source, and its outbox figures or None.
UnitGauges = Callable[[], tuple[dict[str, str], OutboxFigures | None]]


class _Live(Collector):
    def __init__(self, units: dict[str, UnitGauges]) -> None:
        self._units = units

    def collect(self) -> Iterator[GaugeMetricFamily]:
        breaker = GaugeMetricFamily(
            "creditguard_breaker_state",
            "Circuit breaker of a remote source: 0 closed, 1 half-open, 2 open",
            labels=["unit", "source"],
        )
        backlog = GaugeMetricFamily(
            "creditguard_outbox_backlog", "Outbox items not yet delivered", labels=["unit"]
        )
        dead = GaugeMetricFamily(
            "creditguard_outbox_dead_letters", "Outbox items the platform refused", labels=["unit"]
        )
        awaiting = GaugeMetricFamily(
            "creditguard_feedback_awaited",
            "Cases opened (measures applied) that have no feedback yet",
            labels=["unit"],
        )
        overdue = GaugeMetricFamily(
            "creditguard_feedback_overdue",
            "Cases with no feedback after [outbox] feedback_due_s",
            labels=["unit"],
        )
        for unit, read in sorted(self._units.items()):
            try:
                breakers, outbox = read()
            except Exception:  # a scrape must not fail because one store is unreadable
                log.exception("metrics: cannot read the state of unit %s", unit)
                continue
            for source, state in sorted(breakers.items()):
                breaker.add_metric([unit, source], _BREAKER_VALUE.get(state, 2.0))
            if outbox is not None:
                backlog.add_metric([unit], float(outbox.pending))
                dead.add_metric([unit], float(outbox.dead))
                awaiting.add_metric([unit], float(outbox.awaiting_feedback))
                overdue.add_metric([unit], float(outbox.feedback_overdue))
        yield breaker
        yield backlog
        yield dead
        yield awaiting
        yield overdue


class ServiceMetrics:
    """The service's figures in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._units: dict[str, UnitGauges] = {}
        self.checks = Counter(
            "creditguard_checks",
            "Decisions made, by unit, outcome and verification",
            ["unit", "outcome", "verification"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "creditguard_request_seconds",
            "Time to answer a decision request, by endpoint",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.source_errors = Counter(
            "creditguard_source_errors",
            "Decisions in which a source failed to answer, by unit and source",
            ["unit", "source"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "creditguard_refusals",
            "Requests refused (authentication or authorisation), by reason",
            ["reason"],
            registry=self.registry,
        )
        self.errors = Counter(
            "creditguard_request_errors",
            "Error answers, by status and code",
            ["status", "code"],
            registry=self.registry,
        )
        self.registry.register(_Live(self._units))

    def watch_unit(self, unit: str, read: UnitGauges) -> None:
        """Read ``unit``'s breakers, outbox and awaited feedback at each scrape."""
        self._units[unit] = read

    def decided(self, unit: str, d: Decision) -> None:
        """Count one decision and the sources that failed in it."""
        verification = "verified" if d.verified else ("stale" if d.stale else "unverified")
        self.checks.labels(unit, d.outcome, verification).inc()
        for p in d.provenance:
            if p.error is not None:
                self.source_errors.labels(unit, p.source).inc()

    def render(self) -> bytes:
        """The text exposition of every figure."""
        return generate_latest(self.registry)
