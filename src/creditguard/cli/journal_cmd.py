"""``creditguard journal``: read the decision journal (personal data masked).

``creditguard journal show DECISION_ID`` gives one decision's text again,
rendered from the facts and wording version the journal recorded. Both read
the SQLite journal file or the PostgreSQL journal (``[journal] path =
"postgresql://…"``, or ``--path`` with the DSN), whose DSN is never shown.
"""

from __future__ import annotations

from datetime import datetime

import click

from creditguard.cli._common import echo_json, fail
from creditguard.errors import CreditGuardError

_CONFIG_HELP = "Config file naming the journal (default: $CREDITGUARD_CONFIG)."


@click.group(invoke_without_command=True)
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only decisions from then on.",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many decisions.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="CREDITGUARD_CONFIG",
    help=_CONFIG_HELP,
)
@click.option(
    "--path",
    "db_path",
    type=click.Path(dir_okay=False),
    help="Journal file or postgresql:// DSN (overrides the config).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as JSON.")
@click.pass_context
def journal(
    ctx: click.Context,
    since: datetime | None,
    limit: int | None,
    config_path: str | None,
    db_path: str | None,
    as_json: bool,
) -> None:
    """List journaled decisions, oldest first (resident ID numbers masked).

    Each decision shows what was decided: outcome, subject, step, region and
    the codes of the measures applied; ``--json`` adds the date, verified and
    stale flags, conditions, record ids, list version and sources.
    ``creditguard journal show DECISION_ID`` shows one decision's text.
    """
    if ctx.invoked_subcommand is not None:
        return
    from creditguard.clock import CST
    from creditguard.config import load_config
    from creditguard.journal import read_journal
    from creditguard.journal_pg import is_dsn, journal_target

    try:
        cfg = load_config(config_path)
        path = db_path or journal_target(cfg)
        entries = read_journal(
            path, since=since.replace(tzinfo=CST) if since else None, limit=limit
        )
    except CreditGuardError as exc:
        fail(str(exc))
    if as_json:
        echo_json({"decisions": [e.to_dict() for e in entries]})
        return
    if not entries:
        click.echo(f"no decisions in {'the PostgreSQL journal' if is_dsn(path) else path}")
        return
    for e in entries:
        flag = "" if e.verified else "  UNVERIFIED"
        codes = ",".join(e.measures)
        click.echo(
            f"{e.decided_at[:19]}  {e.outcome:8} {e.subject:20} {e.step:22} {e.region}  {codes}{flag}"
        )


@journal.command("show")
@click.argument("decision_id")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="CREDITGUARD_CONFIG",
    help=_CONFIG_HELP,
)
@click.option(
    "--path",
    "db_path",
    type=click.Path(dir_okay=False),
    help="Journal file or postgresql:// DSN (overrides the config).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision and its text as JSON.")
def show(decision_id: str, config_path: str | None, db_path: str | None, as_json: bool) -> None:
    """Show the decision DECISION_ID and its text exactly as it was shown (always masked).

    The text is rendered again from the facts the journal recorded, in the
    wording version the decision was shown in, so an improved wording does
    not change it. A wording version this creditguard no longer ships is an
    error naming it; so is a decision journaled before its journal recorded
    texts (a SQLite journal of layout 4 or older, a PostgreSQL row written
    before the ``facts`` column existed).
    """
    from creditguard.config import load_config
    from creditguard.journal import render_explanation
    from creditguard.journal_pg import journal_target

    try:
        cfg = load_config(config_path)
        entry, text = render_explanation(db_path or journal_target(cfg), decision_id)
    except CreditGuardError as exc:
        fail(str(exc))
    if as_json:
        echo_json({"decision": entry.to_dict(), "explanation": text})
        return
    flag = "" if entry.verified else "  UNVERIFIED"
    click.echo(
        f"{entry.decided_at[:19]}  {entry.outcome:8} {entry.subject:20} {entry.step:22} "
        f"{entry.region}{flag}"
    )
    click.echo(text)
