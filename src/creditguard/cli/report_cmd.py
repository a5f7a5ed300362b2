"""``creditguard report``: evaluation figures per region (notice 893 §19)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from creditguard.cli._common import echo_json, fail

__all__ = ["report"]


@click.command()
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD.")
@click.option("--region", help="Only this region (6 digits).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Write an offline HTML page with charts to this file (needs the report extra).",
)
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    help="creditguard.toml (default $CREDITGUARD_CONFIG).",
)
def report(
    start: str,
    end: str,
    region: str | None,
    as_json: bool,
    html_file: str | None,
    config: str | None,
) -> None:
    """Checks, hits, measures, feedback and the supervision lifecycle's figures per region.

    From the decision journal: checks, hits, unverified decisions, outcomes,
    measures by effect and by step; from the outbox: feedback delivered and
    pending, cases awaiting feedback now and overdue; from the supervision store: rectifications, interviews,
    commitments, training, reports, consulting, repairs and disclosures.
    """
    from creditguard.cli.lifecycle_cmd import open_lifecycle
    from creditguard.errors import CreditGuardError
    from creditguard.supervision.report import report_document

    if as_json and html_file:
        fail("--json and --html exclude each other", code=2)
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        fail("--from and --to must be YYYY-MM-DD")
    if last < first:
        fail(f"--to {last} is before --from {first}")
    if region is not None and not (len(region) == 6 and region.isascii() and region.isdigit()):
        fail(f"--region must be a 6-digit division code such as 320100, got {region!r}")
    from creditguard.config import load_config

    lc = open_lifecycle(config)
    try:
        doc = report_document(
            lc, load_config(config, required=True), start=first, end=last, region=region
        )
    except CreditGuardError as exc:
        fail(str(exc))
    finally:
        lc.close()
    if as_json:
        echo_json(doc)
        return
    if html_file:
        from creditguard.supervision.report_html import render_html

        try:
            page = render_html(doc)
        except CreditGuardError as exc:
            fail(str(exc))
        try:
            Path(html_file).write_text(page, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {html_file}: {exc.strerror or exc}")
        click.echo(f"wrote {html_file}")
        return
    _print(doc)


def _print(doc: dict[str, object]) -> None:
    empty = True
    for section in ("checks", "feedback", "cases", "regions"):
        figures = doc[section]
        assert isinstance(figures, dict)
        for reg, f in sorted(figures.items()):
            empty = False
            click.echo(f"{section} region {reg or '-'}")
            for key, value in f.items():
                click.echo(f"  {key}: {value}")
    if empty:
        click.echo("no checks, feedback or supervision events in this period")
