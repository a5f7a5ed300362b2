"""``creditguard history CODE``: a subject's supervision events, persons masked."""

from __future__ import annotations

import click

from creditguard.cli._common import echo_json, fail

__all__ = ["history"]


@click.command()
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    help="creditguard.toml (default $CREDITGUARD_CONFIG).",
)
def history(code: str, as_json: bool, config: str | None) -> None:
    """Every supervision event recorded for CODE, oldest first (persons masked)."""
    from creditguard.cli.lifecycle_cmd import open_lifecycle
    from creditguard.errors import CreditGuardError
    from creditguard.supervision.history import history as build

    lc = open_lifecycle(config)
    try:
        doc = build(lc.store, code)
    except CreditGuardError as exc:
        fail(str(exc))
    finally:
        lc.close()
    if as_json:
        echo_json(doc)
        return
    click.echo(f"{doc['subject_code']} ({doc['subject_kind']}): {len(doc['events'])} event(s)")
    for row in doc["events"]:
        extra = f" [{row['platform_status']}]" if "platform_status" in row else ""
        data = ", ".join(f"{k}={v}" for k, v in row["data"].items())
        click.echo(
            f"{row['day']}  {row['record_id']}  {row['type']}{extra}  {row['unit_code']}  {data}"
        )
