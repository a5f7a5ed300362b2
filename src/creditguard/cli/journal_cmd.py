"""``creditguard journal``: read the decision journal (personal data masked)."""

from __future__ import annotations

from datetime import datetime

import click

from creditguard.cli._common import echo_json, fail
from creditguard.errors import CreditGuardError


@click.command()
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
    help="Config file naming the journal (default: $CREDITGUARD_CONFIG).",
)
@click.option(
    "--path",
    "db_path",
    type=click.Path(dir_okay=False),
    help="Journal file (overrides the config).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as JSON.")
def journal(
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
    """
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
