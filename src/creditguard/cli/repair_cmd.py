"""``creditguard repair check|apply|decide``: credit repair under the rules in force (FACTS §5)."""

from __future__ import annotations

from datetime import date

import click

from creditguard.cli._common import echo_json, fail
from creditguard.cli.lifecycle_cmd import (
    _at_option,
    _config_option,
    _record_option,
    _run,
    _when,
    open_lifecycle,
)

__all__ = ["repair"]


@click.group()
def repair() -> None:
    """Credit repair (信用修复): may the subject apply, apply, decide."""


@repair.command()
@click.argument("code")
@_record_option
@click.option("--as-of", "as_of", help="The day to judge (default today, China Standard Time).")
@click.option(
    "--tier",
    type=click.Choice(["minor", "general", "serious"]),
    help="Information tier (Order 36).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_config_option
def check(
    code: str,
    record_id: str,
    as_of: str | None,
    tier: str | None,
    as_json: bool,
    config: str | None,
) -> None:
    """Whether subject CODE may apply now, what is missing, and from which date (exit 0 yes, 1 otherwise)."""
    from creditguard.clock import today_cst
    from creditguard.errors import CreditGuardError

    try:
        day = today_cst() if as_of is None else date.fromisoformat(as_of)
    except ValueError:
        fail(f"--as-of must be YYYY-MM-DD, got {as_of!r}")
    lc = open_lifecycle(config)
    try:
        listing = lc.store.listing(record_id)
        from creditguard.codes import parse_code

        if listing is None or listing.subject_code != parse_code(code).code:
            fail(f"no listing {record_id} of this subject under supervision")
        a = lc.repair_status(record_id, as_of=day, tier=tier)
    except CreditGuardError as exc:
        fail(str(exc))
    finally:
        lc.close()
    if as_json:
        echo_json(a.to_dict())
    else:
        answer = {True: "may apply", False: "may not apply", None: "cannot say"}[a.may_apply]
        click.echo(
            f"{record_id}: {answer} on {a.as_of} (rules: {a.rules or '-'}, route: {a.route})"
        )
        for m in a.missing:
            click.echo(f"  missing: {m}")
        for n in a.notes:
            click.echo(f"  note: {n}")
        if a.from_date is not None:
            click.echo(f"  from: {a.from_date}")
    if a.may_apply is not True:
        raise SystemExit(1)


@repair.command()
@_record_option
@click.option(
    "--tier",
    type=click.Choice(["minor", "general", "serious"]),
    help="Information tier (Order 36).",
)
@_at_option
@_config_option
def apply(record_id: str, tier: str | None, at: str | None, config: str | None) -> None:
    """Record a repair application (refused, naming what is missing, when not allowed)."""
    _run(config, lambda lc: lc.apply_repair(record_id, tier=tier, at=_when(at)))


@repair.command()
@_record_option
@click.option("--grant/--refuse", required=True, help="The identifying department's decision.")
@click.option("--detail", required=True, help="The decision's grounds.")
@_at_option
@_config_option
def decide(record_id: str, grant: bool, detail: str, at: str | None, config: str | None) -> None:
    """Record the identifying department's decision on a repair application."""
    _run(config, lambda lc: lc.decide_repair(record_id, granted=grant, detail=detail, at=_when(at)))
