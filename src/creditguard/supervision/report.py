"""Evaluation figures per region (notice 893 §19) from the supervision store, journal and outbox."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING, Any

from creditguard.supervision.store import SupervisionStore

if TYPE_CHECKING:
    from creditguard.config import Config
    from creditguard.supervision.lifecycle import Lifecycle

__all__ = ["report_document", "supervision_figures"]


def _blank() -> dict[str, Any]:
    return {
        "rectifications": {"ordered": 0, "confirmed": 0, "confirmed_on_time": 0, "overdue": 0},
        "interviews": {"prompt": 0, "warning": 0, "refused": 0},
        "commitments": {"made": 0, "breached": 0},
        "training": {"sessions": 0, "hours": 0.0},
        "reports": 0,
        "consulting": {"sessions": 0, "hours": 0.0},
        "repairs": {"applied": 0, "granted": 0, "refused": 0},
        "responsible_persons_named": 0,
        "disclosures": {"prepared": 0, "on_time": 0, "late": 0, "withdrawn": 0},
    }


def supervision_figures(
    store: SupervisionStore, *, start: date, end: date, region: str | None = None
) -> dict[str, dict[str, Any]]:
    """Figures per region for events and disclosures dated ``start`` … ``end`` (both included).

    A rectification is confirmed on time when ``confirmed_on`` is not after
    its order's deadline; a disclosure is on time when it was prepared (and
    queued for the platform) by its ``publish_by`` day.
    """
    out: dict[str, dict[str, Any]] = defaultdict(_blank)
    deadlines: dict[str, str] = {}
    for ev, reg, day in store.events(until=end.isoformat()):
        if ev.type == "rectification.ordered":
            deadlines[ev.record_id] = str(ev.data.get("deadline"))
        if day < start.isoformat() or (region is not None and reg != region):
            continue
        f = out[reg]
        t, d = ev.type, ev.data
        if t == "rectification.ordered":
            f["rectifications"]["ordered"] += 1
        elif t == "rectification.confirmed":
            f["rectifications"]["confirmed"] += 1
            due = deadlines.get(ev.record_id)
            if due is not None and str(d.get("confirmed_on")) <= due:
                f["rectifications"]["confirmed_on_time"] += 1
        elif t == "rectification.overdue":
            f["rectifications"]["overdue"] += 1
        elif t == "interview.held":
            f["interviews"][str(d.get("interview_kind"))] += 1
        elif t == "interview.refused":
            f["interviews"]["refused"] += 1
        elif t == "commitment.made":
            f["commitments"]["made"] += 1
        elif t == "commitment.breached":
            f["commitments"]["breached"] += 1
        elif t == "training.completed":
            f["training"]["sessions"] += 1
            f["training"]["hours"] += float(d.get("hours", 0))
        elif t == "report.submitted":
            f["reports"] += 1
        elif t == "consulting.given":
            f["consulting"]["sessions"] += 1
            f["consulting"]["hours"] += float(d.get("hours", 0))
        elif t in ("repair.applied", "repair.granted", "repair.refused"):
            f["repairs"][t.split(".")[1]] += 1
        elif t == "responsible_person.named":
            f["responsible_persons_named"] += 1
    for disc in store.disclosures():
        if not start.isoformat() <= disc.decided_on <= end.isoformat():
            continue
        if region is not None and disc.region != region:
            continue
        f = out[disc.region]["disclosures"]
        f["prepared"] += 1
        f["on_time" if disc.prepared_on <= disc.publish_by else "late"] += 1
        f["withdrawn"] += disc.withdrawal is not None
    return dict(out)


def report_document(
    lifecycle: Lifecycle, config: Config, *, start: date, end: date, region: str | None = None
) -> dict[str, Any]:
    """What ``creditguard report --json`` prints (docs/cli-json.md): every figure of §19.

    ``checks`` (journal), ``feedback`` (outbox), ``cases`` (open now, with
    ``[outbox] feedback_due_s``) and ``regions`` (supervision store) map a
    region to its figures; ``outbox`` is the whole backlog now.
    """
    from creditguard.journal_pg import journal_target
    from creditguard.measures.installed import build_catalog
    from creditguard.plugins import Hooks, build_plugin_manager
    from creditguard.supervision.check_figures import (
        case_figures,
        catalog_effects,
        check_figures,
        feedback_figures,
        journal_entries,
    )
    from creditguard.supervision.measures import BREACH_MEASURE_CODE

    journal = journal_target(config)  # a file, or the postgresql:// journal every host writes
    entries = journal_entries(str(journal), start=start, end=end)
    now = time.time()
    catalog = build_catalog(config, Hooks(build_plugin_manager()))
    effect_of = catalog_effects(catalog, {BREACH_MEASURE_CODE: "no_commitment"})
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "region": region,
        "checks": check_figures(entries, effect_of=effect_of, region=region),
        "feedback": feedback_figures(
            lifecycle.outbox,
            start=start,
            end=end,
            unit_code=lifecycle.unit_code,
            entries=entries,
            region=region,
        ),
        "cases": case_figures(
            lifecycle.outbox, now=now, due_s=config.outbox.feedback_due_s, region=region
        ),
        "feedback_due_s": config.outbox.feedback_due_s,
        "regions": supervision_figures(lifecycle.store, start=start, end=end, region=region),
        "outbox": lifecycle.outbox.status(now=now).as_dict(),
    }
