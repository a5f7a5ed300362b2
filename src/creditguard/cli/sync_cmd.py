"""``creditguard sync``: read the platform's push feed into the local mirror, fetch measure lists.

Settings come from ``--config`` (or ``$CREDITGUARD_CONFIG``): the feed is
read through the channel the platform's adapter builds from ``[outbox]
platform`` or the first ``[[sources]]`` entry with a channel (its secret from
the variable that entry names), the mirror is the first source of type
``mirror``, the sync state and the book of platform cases live in
``data_dir`` next to the outbox the guards use, and the unit code is
``[guard] unit_code``. Paths can be overridden one by one.

Then the lists of ``[measures] platform_regions`` are fetched (spec §5.1),
judged measure by measure and kept in ``data_dir/measure-lists`` for the
guards built after it; a ``measure_list.published`` push in the feed makes
its region be fetched afresh (without the ETag).
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
import httpx

from creditguard.cli._common import EXIT_ERROR, EXIT_USAGE, echo_json, fail, usage_exit_code
from creditguard.errors import CreditGuardError

if TYPE_CHECKING:
    from creditguard.channels import Channel
    from creditguard.config import Config
    from creditguard.measures.platform_sync import ListFetch, PlatformLists
    from creditguard.mirror import SqliteMirror

__all__ = ["sync"]


@dataclass(frozen=True)
class _Plan:
    """Everything one sync run needs, resolved from options and configuration."""

    channel: Channel
    mirror: SqliteMirror
    state: Path
    case_book: Path
    outbox: str | None
    unit_code: str | None


def _mirror(cfg: Config, mirror_path: str | None) -> SqliteMirror:
    from creditguard.defaults import mirror_source

    if mirror_path is not None:
        # mirror_source tells a PostgreSQL URL from a SQLite file, as for a configured source.
        given: SqliteMirror = mirror_source(name="mirror", path=mirror_path)
        return given
    sc = next((s for s in cfg.sources if s.type == "mirror"), None)
    if sc is None:
        fail(
            "the configuration has no [[sources]] entry of type 'mirror' to sync into; "
            "add one or pass --mirror",
            code=EXIT_USAGE,
        )
    # The same resolution as the guard's mirror source: path from the file's folder, else data_dir.
    built: SqliteMirror = mirror_source(
        name=sc.name, data_dir=cfg.data_dir, base_dir=cfg.base_dir, **sc.options
    )
    return built


def _plan(
    cfg: Config,
    *,
    mirror_path: str | None,
    state_path: str | None,
    outbox_path: str | None,
    unit_code: str | None,
) -> _Plan:
    from creditguard.case_desk import case_book_path, outbox_enabled, outbox_target
    from creditguard.channels import open_channel

    channel = open_channel(cfg)
    if channel is None:
        fail(
            "no platform to read: the configuration needs a [[sources]] entry whose type has a "
            "channel (type 'platform' with creditguard-platform installed)",
            code=EXIT_USAGE,
        )
    mirror = _mirror(cfg, mirror_path)
    unit = unit_code or cfg.guard.unit_code or None
    state = Path(state_path) if state_path else cfg.data_dir / "sync-state.db"
    book = case_book_path(cfg)
    outbox = outbox_path or (outbox_target(cfg) if outbox_enabled(cfg) else None)
    if outbox and not unit:
        fail(
            "answering platform cases needs this unit's code: --unit-code or [guard] unit_code",
            code=EXIT_USAGE,
        )
    return _Plan(channel, mirror, state, book, outbox, unit)


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="creditguard.toml [$CREDITGUARD_CONFIG]; names the platform, the mirror and data_dir.",
)
@click.option(
    "--mirror",
    "mirror_path",
    type=click.Path(dir_okay=False),
    help="SQLite mirror file or postgresql:// DSN [the config's mirror source].",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False),
    help="Sync state file [data_dir/sync-state.db].",
)
@click.option(
    "--outbox",
    "outbox_path",
    metavar="PATH|DSN",
    help="Outbox for responses to platform cases [the config's [outbox]].",
)
@click.option("--unit-code", help="This unit's code [[guard] unit_code].")
@click.option(
    "--implements",
    multiple=True,
    help="A measure code this unit carries out (repeat; default: [outbox] implements).",
)
@click.option("--limit", default=100, show_default=True, help="Events per page (1 to 1000).")
@click.option(
    "--timeout", "timeout_s", default=30.0, show_default=True, help="HTTP timeout in seconds."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sync(
    config_path: str | None,
    mirror_path: str | None,
    state_path: str | None,
    outbox_path: str | None,
    unit_code: str | None,
    implements: tuple[str, ...],
    limit: int,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Apply new push events once each; persist the cursor after each page; fetch measure lists.

    The lists of [measures] platform_regions are fetched after the feed; a
    list that fails validation is not activated and the last good one stays.
    Exit codes: 0 done, 1 the platform or a local store failed, or a list
    was refused or could not be fetched (the cursor stays at the last
    applied page), 2 missing settings.
    """
    from creditguard.cases import CaseRecorder, SqliteCaseBook
    from creditguard.config import load_config
    from creditguard.outbox import open_outbox
    from creditguard.push_feed import FeedState, PushFeed

    try:
        cfg = load_config(config_path)
        plan = _plan(
            cfg,
            mirror_path=mirror_path,
            state_path=state_path,
            outbox_path=outbox_path,
            unit_code=unit_code,
        )
        with contextlib.ExitStack() as stack:
            stack.callback(plan.mirror.close)
            recorder = None
            if plan.outbox:
                assert plan.unit_code is not None
                box = open_outbox(plan.outbox)
                stack.callback(box.close)
                book = SqliteCaseBook(plan.case_book)
                recorder = CaseRecorder(box, plan.unit_code, book=book)
            # A PostgreSQL mirror keeps the feed's cursor in its own database, so a page and its
            # cursor commit together; --state still names a file when given.
            shared = getattr(plan.mirror, "feed_state", None)
            state = shared() if callable(shared) and state_path is None else FeedState(plan.state)
            # Measures this unit carries out: the options, else [outbox] implements.
            implemented = implements or cfg.outbox.implements
            lists = _platform_lists(cfg, plan.channel)
            runner = PushFeed(
                plan.mirror,
                state,
                channel=plan.channel,
                cases=recorder,
                implemented=implemented,
                on_measure_list=None if lists is None else lists.on_published,
            )
            client = stack.enter_context(httpx.Client(timeout=timeout_s))
            report = runner.pull(client, limit=limit)
            fetched = [] if lists is None else lists.refresh(client)
    except CreditGuardError as exc:
        fail(str(exc), code=usage_exit_code(exc))
    if as_json:
        echo_json({**report.as_dict(), "measure_lists": [f.as_dict() for f in fetched]})
    else:
        click.echo(
            f"applied {report.applied}, duplicates {report.duplicates}, unknown {report.unknown}, "
            f"rejected {report.rejected} over {report.pages} page(s); cursor {report.cursor}"
        )
        for f in fetched:
            click.echo(_fetch_line(f))
    if any(f.failed for f in fetched):
        sys.exit(EXIT_ERROR)


def _platform_lists(cfg: Config, channel: Channel) -> PlatformLists | None:
    """The fetcher of [measures] platform_regions; None when no region is configured."""
    if not cfg.measures.platform_regions:
        return None
    from creditguard.channels import list_channel
    from creditguard.measures.installed import basis_policy
    from creditguard.measures.platform_lists import PlatformListStore
    from creditguard.measures.platform_sync import PlatformLists, platform_list_dir

    return PlatformLists(
        list_channel(channel),
        PlatformListStore(platform_list_dir(cfg)),
        cfg.measures.platform_regions,
        policy=basis_policy(cfg),
    )


def _fetch_line(f: ListFetch) -> str:
    kept = f"version {f.version} in force" if f.version else "no list kept yet"
    line = f"measure list {f.region} ({f.trigger}): {f.status}; {kept}"
    if f.rejected:
        codes = ", ".join(str(r["measure"] or r["field"] or "?") for r in f.rejected)
        line += f"; {len(f.rejected)} measure(s) not applied: {codes}"
    if f.error:
        line += f"; {f.error.splitlines()[0][:300]}"
    return line
