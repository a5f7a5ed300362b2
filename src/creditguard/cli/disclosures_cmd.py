"""``creditguard disclosures overdue``: publications and withdrawals past their deadline."""

from __future__ import annotations

from datetime import date

import click

from creditguard.cli._common import echo_json, fail

__all__ = ["disclosures"]


@click.group()
def disclosures() -> None:
    """Disclosures of penalties and listings (失信信息公示, spec §11)."""


@disclosures.command()
@click.option("--as-of", "as_of", help="The day to judge (default today, China Standard Time).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    help="creditguard.toml (default $CREDITGUARD_CONFIG).",
)
def overdue(as_of: str | None, as_json: bool, config: str | None) -> None:
    """List disclosures and withdrawals past their deadline; exit 1 when there are any."""
    from creditguard.cli.lifecycle_cmd import open_lifecycle
    from creditguard.errors import CreditGuardError
    from creditguard.supervision.disclosure import DisclosureDesk

    try:
        day = None if as_of is None else date.fromisoformat(as_of)
    except ValueError:
        fail(f"--as-of must be YYYY-MM-DD, got {as_of!r}")
    lc = open_lifecycle(config)
    try:
        desk = DisclosureDesk(lc.store, lc.outbox, unit_code=lc.unit_code, config=lc.config)
        late = desk.overdue(as_of=day)
    except CreditGuardError as exc:
        fail(str(exc))
    finally:
        lc.close()
    if as_json:
        echo_json({"overdue": [o.to_dict() for o in late]})
    else:
        for o in late:
            click.echo(f"{o.disclosure_id}  {o.what}  due {o.deadline}  {o.why}")
        if not late:
            click.echo("no disclosure is overdue")
    if late:
        raise SystemExit(1)
