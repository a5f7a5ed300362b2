"""``creditguard sync``: read the platform's push feed into the local mirror."""

from __future__ import annotations

import os
from pathlib import Path

import click
import httpx

from creditguard.cli._common import echo_json, fail, fail_from
from creditguard.errors import CreditGuardError

__all__ = ["sync"]


@click.command()
@click.option(
    "--base-url", required=True, help="Platform base URL, e.g. https://credit.example.gov.cn/api."
)
@click.option("--app-key", required=True, help="Application key id.")
@click.option(
    "--secret-env",
    default="CREDITGUARD_SECRET",
    show_default=True,
    help="Variable holding the secret.",
)
@click.option(
    "--mirror",
    "mirror_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="SQLite mirror file.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False),
    help="Sync state file [mirror's folder/sync-state.db].",
)
@click.option(
    "--outbox", "outbox_path", metavar="PATH|DSN", help="Outbox for responses to platform cases."
)
@click.option("--unit-code", help="This unit's code (needed to answer platform cases).")
@click.option("--implements", multiple=True, help="A measure code this unit carries out (repeat).")
@click.option("--limit", default=100, show_default=True, help="Events per page.")
@click.option(
    "--timeout", "timeout_s", default=30.0, show_default=True, help="HTTP timeout in seconds."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sync(
    base_url: str,
    app_key: str,
    secret_env: str,
    mirror_path: str,
    state_path: str | None,
    outbox_path: str | None,
    unit_code: str | None,
    implements: tuple[str, ...],
    limit: int,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Apply new push events once each; persist the cursor after each page."""
    from creditguard.cases import CaseRecorder, SqliteCaseBook
    from creditguard.mirror import SqliteMirror
    from creditguard.outbox import open_outbox
    from creditguard.sync import PushSync, SyncState

    secret = os.environ.get(secret_env)
    if not secret:
        fail(f"the platform secret is not set: export {secret_env}", code=2)
    state_file = Path(state_path) if state_path else Path(mirror_path).with_name("sync-state.db")
    try:
        recorder = None
        if outbox_path:
            if not unit_code:
                fail("--unit-code is needed with --outbox", code=2)
            book = SqliteCaseBook(state_file.with_name("platform-cases.db"))
            recorder = CaseRecorder(open_outbox(outbox_path), unit_code, book=book)
        runner = PushSync(
            SqliteMirror(mirror_path), SyncState(state_file), cases=recorder, implemented=implements
        )
        with httpx.Client(timeout=timeout_s) as client:
            report = runner.pull(
                client, base_url=base_url, app_key=app_key, secret=secret, limit=limit
            )
    except CreditGuardError as exc:
        fail_from(exc)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(
        f"applied {report.applied}, duplicates {report.duplicates}, unknown {report.unknown}, "
        f"rejected {report.rejected} over {report.pages} page(s); cursor {report.cursor}"
    )
