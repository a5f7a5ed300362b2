"""``creditguard report``: evaluation figures per region (notice 893 §19)."""

from __future__ import annotations

from datetime import date

import click

from creditguard.cli._common import echo_json, fail

__all__ = ["report"]


@click.command()
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD.")
@click.option("--region", help="Only this region (6 digits).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    help="creditguard.toml (default $CREDITGUARD_CONFIG).",
)
def report(start: str, end: str, region: str | None, as_json: bool, config: str | None) -> None:
    """Rectifications, interviews, commitments, training, reports, consulting, repairs, disclosures per region."""
    from creditguard.cli.lifecycle_cmd import open_lifecycle
    from creditguard.supervision.report import supervision_figures

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        fail("--from and --to must be YYYY-MM-DD")
    if last < first:
        fail(f"--to {last} is before --from {first}")
    lc = open_lifecycle(config)
    try:
        figures = supervision_figures(lc.store, start=first, end=last, region=region)
        outbox = lc.outbox.status(now=0).as_dict()
    finally:
        lc.close()
    doc = {"from": first.isoformat(), "to": last.isoformat(), "regions": figures, "outbox": outbox}
    if as_json:
        echo_json(doc)
        return
    for reg, f in sorted(figures.items()):
        click.echo(f"region {reg or '-'}")
        for key, value in f.items():
            click.echo(f"  {key}: {value}")
    if not figures:
        click.echo("no supervision events in this period")
