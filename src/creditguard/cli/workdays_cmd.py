"""``creditguard workdays DATE N``: the Nth working day strictly after DATE (FACTS §3)."""

from __future__ import annotations

from datetime import date

import click

from creditguard.cli._common import echo_json, fail

__all__ = ["workdays"]


@click.command()
@click.argument("start", metavar="DATE")
@click.argument("n", type=int)
@click.option(
    "--holidays",
    "holidays_dir",
    type=click.Path(file_okay=False),
    envvar="CREDITGUARD_HOLIDAYS_DIR",
    help="Folder of operator-added YYYY.toml holiday schedules (default $CREDITGUARD_HOLIDAYS_DIR).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def workdays(start: str, n: int, holidays_dir: str | None, as_json: bool) -> None:
    """Print the N-th working day strictly after DATE (YYYY-MM-DD).

    Statutory holidays and make-up working days come from the State Council's
    yearly schedules; exit 1 with the reason when a year is not covered.
    """
    from creditguard.calendar import WorkdayCalendar
    from creditguard.errors import CreditGuardError

    try:
        day = date.fromisoformat(start)
    except ValueError:
        fail(f"DATE must be YYYY-MM-DD, got {start!r}")
    if n < 1:
        fail(f"N must be at least 1, got {n}")
    try:
        cal = WorkdayCalendar.load(holidays_dir)
        deadline = cal.add_workdays(day, n)
    except CreditGuardError as exc:
        fail(str(exc))
    if as_json:
        echo_json(
            {
                "date": day.isoformat(),
                "workdays": n,
                "deadline": deadline.isoformat(),
                "covered_years": list(cal.covered_years),
            }
        )
        return
    click.echo(deadline.isoformat())
