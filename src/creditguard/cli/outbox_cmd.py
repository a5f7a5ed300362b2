"""``creditguard outbox status|flush|retry|dead|open``: see and act on the feedback backlog."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import click

from creditguard.cases import CaseRecorder, OpenCase
from creditguard.cli._common import echo_json, fail, fail_from, usage_exit_code
from creditguard.errors import CreditGuardError
from creditguard.journal_pg import is_dsn
from creditguard.masking import mask_code
from creditguard.outbox import Outbox, open_outbox

__all__ = ["outbox"]


def _open(path: str | None, config: str | None) -> Outbox:
    if path is None:
        from creditguard.case_desk import outbox_target
        from creditguard.config import load_config

        try:
            path = outbox_target(load_config(config))
        except CreditGuardError as exc:
            fail_from(exc)
        # A DSN names a server, not a file; PostgresOutbox reports a bad one without showing it.
        if not is_dsn(path) and not os.path.exists(path):
            fail(f"no outbox at {path} (name one with --path)")
    try:
        return open_outbox(path)
    except CreditGuardError as exc:
        fail_from(exc)


_where = [
    click.option(
        "--path", "path", metavar="PATH|DSN", help="SQLite outbox file or postgresql:// DSN."
    ),
    click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False),
        help="creditguard.toml: its [outbox] path, default data_dir/outbox.db.",
    ),
]


def _with_where(f: Any) -> Any:
    for option in reversed(_where):
        f = option(f)
    return f


@click.group()
def outbox() -> None:
    """The durable outbox of cases, responses and feedback."""


_due_after = click.option(
    "--due-after",
    "due_after",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds after which a case with no feedback is overdue "
    "(default: [outbox] feedback_due_s of --config, else 86400).",
)


def _due_s(config: str | None, due_after: float | None) -> float:
    """How long a case may wait for feedback: the option, the config's, else the default."""
    from creditguard.config import OutboxConfig, load_config

    if due_after is not None:
        return due_after
    if config is not None:
        try:
            return load_config(config).outbox.feedback_due_s
        except CreditGuardError as exc:
            fail_from(exc)
    return float(OutboxConfig.model_fields["feedback_due_s"].default)


def _case_line(case: OpenCase, now: float) -> str:
    measures = ",".join(code for code, _ in case.measures) or "?"
    ref = case.workflow_ref or "-"
    return (
        f"{case.case_id} {case.step} {mask_code(case.subject_code)} ref={ref} "
        f"measures={measures} opened {now - case.opened_at:.0f} s ago"
    )


@outbox.command()
@_with_where
@_due_after
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(path: str | None, config: str | None, due_after: float | None, as_json: bool) -> None:
    """Backlog, oldest pending age, attempts, dead letters, leased items and overdue feedback.

    Items *leased* are held by a deliverer: being sent, or held by a killed
    one until ``[outbox] lease_s`` passes. Cases *overdue* applied measures
    and have no feedback after ``[outbox] feedback_due_s`` (a step that
    failed, or a crash between the step and its feedback): resume them with
    ``creditguard outbox open --feed-back``.
    """
    box = _open(path, config)
    now = time.time()
    due_s = _due_s(config, due_after)
    st = box.status(now=now)
    overdue = box.count_unfed(opened_before=now - due_s)
    if as_json:
        echo_json({**st.as_dict(), "feedback_overdue": overdue, "feedback_due_s": due_s})
        return
    age = "-" if st.oldest_pending_age_s is None else f"{st.oldest_pending_age_s:.0f} s"
    click.echo(
        f"pending {st.pending} (due {st.due}, leased {st.in_flight}), oldest {age}, max attempts {st.max_attempts}"
    )
    click.echo(f"delivered {st.delivered}, dead {st.dead}")
    for kind, n in sorted(st.by_kind.items()):
        click.echo(f"  {kind}: {n} pending")
    if st.in_flight:
        click.echo(
            f"{st.in_flight} item(s) leased: being sent, or held by a killed deliverer "
            "until [outbox] lease_s passes"
        )
    click.echo(f"feedback overdue {overdue} case(s) (no feedback after {due_s:.0f} s)")
    if overdue:
        for case in CaseRecorder(box, "-").open_cases(opened_before=now - due_s, limit=20):
            click.echo(f"  {_case_line(case, now)}")


@outbox.command("open")
@_with_where
@click.option(
    "--workflow-ref",
    "--application",
    "workflow_ref",
    metavar="REF",
    help="Only the cases of this application (the workflow_ref the guard was given).",
)
@click.option("--step", help="Only the cases of this step.")
@click.option("--overdue", is_flag=True, help="Only cases overdue for feedback (see --due-after).")
@_due_after
@click.option(
    "--feed-back",
    "feed_back",
    is_flag=True,
    help="Feed the listed cases back now, each measure by its effect (the step completed); "
    "needs --workflow-ref.",
)
@click.option(
    "--not-applied",
    "not_applied",
    metavar="REASON",
    help="With --feed-back: feed every measure back not_applied with REASON (the step did not happen).",
)
@click.option("--limit", default=100, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def open_cases(
    path: str | None,
    config: str | None,
    workflow_ref: str | None,
    step: str | None,
    overdue: bool,
    due_after: float | None,
    feed_back: bool,
    not_applied: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Cases that applied measures and have no feedback yet: find an application's, resume it.

    Exit codes: 0 listed (or fed back), 2 ``--feed-back`` without
    ``--workflow-ref``, or ``--not-applied`` without ``--feed-back``.
    """
    if feed_back and workflow_ref is None:
        fail("--feed-back needs --workflow-ref: resume one application at a time", code=2)
    if not_applied is not None and not feed_back:
        fail("--not-applied goes with --feed-back", code=2)
    if not_applied is not None and not not_applied.strip():
        fail("--not-applied needs a reason", code=2)
    box = _open(path, config)
    now = time.time()
    cutoff = now - _due_s(config, due_after) if overdue else None
    reader = CaseRecorder(box, "-")
    try:
        cases = reader.open_cases(
            application=workflow_ref, step=step, opened_before=cutoff, limit=limit
        )
        written = 0
        if feed_back:
            for case in cases:
                actions = (
                    {code: ("not_applied", not_applied) for code, _ in case.measures}
                    if not_applied is not None
                    else None
                )
                recorder = CaseRecorder(box, case.unit_code)
                written += len(recorder.feed_back_case(case, actions=actions))
    except CreditGuardError as exc:
        fail_from(exc)
    if as_json:
        shown = [{**c.as_dict(), "subject_code": mask_code(c.subject_code)} for c in cases]
        echo_json({"cases": shown, "fed_back": feed_back, "feedback_items": written})
        return
    if not cases:
        click.echo("no open case")
    for case in cases:
        click.echo(_case_line(case, now))
    if feed_back:
        click.echo(f"fed back {len(cases)} case(s): {written} feedback item(s) queued for delivery")


@outbox.command()
@_with_where
@click.option("--limit", default=100, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def dead(path: str | None, config: str | None, limit: int, as_json: bool) -> None:
    """Dead letters with the platform's reasons."""
    items = _open(path, config).items("dead", limit=limit)
    if as_json:
        echo_json({"items": [dataclasses.asdict(i) for i in items]})
        return
    if not items:
        click.echo("no dead letters")
    for i in items:
        click.echo(f"#{i.id} {i.topic} attempts={i.attempts} key={i.key[:16]}…")
        click.echo(f"    {i.last_error}")


@outbox.command()
@_with_where
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Retry every dead letter.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def retry(
    path: str | None, config: str | None, ids: tuple[int, ...], all_: bool, as_json: bool
) -> None:
    """Put dead letters (IDS, or --all) back in the queue."""
    if not ids and not all_:
        fail("name dead-letter ids or pass --all", code=2)
    n = _open(path, config).retry_dead(None if all_ else list(ids), now=time.time())
    echo_json({"requeued": n}) if as_json else click.echo(f"requeued {n}")


@outbox.command()
@_with_where
@click.option(
    "--due-only",
    is_flag=True,
    help="Only make pending items due now; do not deliver (another process will).",
)
@click.option(
    "--timeout",
    "timeout_s",
    default=30.0,
    show_default=True,
    help="Stop delivering after this many seconds.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def flush(
    path: str | None,
    config: str | None,
    due_only: bool,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Make every pending item due now and deliver them through the configured platform.

    The platform is the configuration's (``[outbox] platform``, else the
    first ``[[sources]]`` entry with a channel); its secret is read from the
    variable that entry names. Exit codes: 0 nothing left undelivered, 1
    items remain pending (retrying, or locked by another deliverer's lease)
    or were dead-lettered, 2 no platform to deliver to.
    """
    from creditguard.channels import open_channel
    from creditguard.config import load_config
    from creditguard.outbox import Deliverer

    box = _open(path, config)
    channel = None
    lease_s = None
    if not due_only:
        try:
            cfg = load_config(config)
            channel = open_channel(cfg)
            lease_s = cfg.outbox.lease_s
        except CreditGuardError as exc:
            fail(str(exc), code=usage_exit_code(exc))
        if channel is None:
            fail(
                "no platform to deliver to: the configuration needs a [[sources]] entry whose "
                "type has a channel (or pass --due-only)",
                code=2,
            )
    made_due = box.make_due(now=time.time())
    counts = {"made_due": made_due, "delivered": 0, "retry": 0, "dead": 0}
    if channel is not None:
        assert lease_s is not None
        d = Deliverer(box, channel, lease_s=lease_s)
        deadline = time.monotonic() + timeout_s
        try:
            for a in d.deliver_due(limit=1_000_000, stop=lambda: time.monotonic() > deadline):
                counts[a.result] += 1
        except CreditGuardError as exc:
            fail_from(exc)
        finally:
            d.close()
    st = box.status(now=time.time())
    # Items another process holds under a lease are reported apart: they are being
    # delivered (or their deliverer died and they wait for the lease to expire).
    counts["pending"] = st.pending
    counts["locked"] = st.in_flight
    if as_json:
        echo_json(counts)
    else:
        click.echo(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))
        if st.in_flight:
            click.echo(
                f"{st.in_flight} item(s) locked by another deliverer's lease "
                "(a killed process holds them until [outbox] lease_s passes)",
                err=True,
            )
    if channel is not None and (st.pending or counts["dead"]):
        raise SystemExit(1)
