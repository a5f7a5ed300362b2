"""``creditguard mirror``: load and inspect the local SQLite mirror."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from creditguard.cli._common import EXIT_USAGE, echo_json, fail, usage_exit_code
from creditguard.errors import CreditGuardError

if TYPE_CHECKING:
    from creditguard.mirror import SqliteMirror


def _mirror(config_path: str | None, path: str | None, source: str | None) -> SqliteMirror:
    """The mirror named by ``--path``, else the configuration's mirror source (exit 2 if none)."""
    from creditguard.config import load_config
    from creditguard.defaults import mirror_source

    if path is not None:
        built: SqliteMirror = mirror_source(name=source or "mirror", path=path)
        return built
    try:
        # A mirror loaded where no check will read it is worse than an error: a config is required.
        cfg = load_config(config_path, required=True)
        mirrors = [sc for sc in cfg.sources if sc.type == "mirror"]
        chosen = [sc for sc in mirrors if source is None or sc.name == source]
        if not chosen:
            names = ", ".join(sc.name for sc in mirrors) or "none"
            fail(
                f"the configuration has no [[sources]] entry of type 'mirror'"
                f"{f' named {source!r}' if source else ''} (mirror sources: {names}); "
                "add one or pass --path",
                code=EXIT_USAGE,
            )
        sc = chosen[0]
        built = mirror_source(
            name=sc.name, data_dir=cfg.data_dir, base_dir=cfg.base_dir, **sc.options
        )
    except CreditGuardError as exc:
        fail(str(exc), code=usage_exit_code(exc))
    return built


_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="CREDITGUARD_CONFIG",
    help="Config file whose mirror source to use [$CREDITGUARD_CONFIG].",
)
_PATH = click.option(
    "--path", "db_path", type=click.Path(dir_okay=False), help="Mirror file (instead of a config)."
)
_SOURCE = click.option(
    "--source", "source", default=None, help="Which mirror source of the config [the first]."
)


@click.group()
def mirror() -> None:
    """Load and inspect the local mirror of credit records."""


@mirror.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_CONFIG
@_PATH
@_SOURCE
@click.option("--dry-run", is_flag=True, help="Check and report, keep nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def import_(
    file: str,
    config_path: str | None,
    db_path: str | None,
    source: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import FILE.jsonl: one {"subject": {...}, "record": {...}} per line.

    Every line is checked first; one bad line (an unknown field, an invalid
    code, a record id held for another subject) imports nothing. The report
    counts records added, updated, unchanged and refused, and the
    legal-representative links set, changed or removed; importing the same
    file again says "0 changed". A subject line without legal_representative
    keeps its link; "legal_representative": null removes it.
    """
    m = _mirror(config_path, db_path, source)
    try:
        report = m.import_jsonl(file, dry_run=dry_run)
    except CreditGuardError as exc:
        fail(str(exc))
    if as_json:
        echo_json({"file": file, "mirror": str(m.path), "dry_run": dry_run, **report.as_dict()})
        return
    verb = "would import" if dry_run else "imported"
    click.echo(f"{verb} {file} into {m.path}: {report.summary()}")
    for change in report.link_changes:
        click.echo(f"  link {change}")
    shown = len(report.link_changes)
    total = report.links_set + report.links_changed + report.links_removed
    if total > shown:
        click.echo(f"  ... and {total - shown} more link change(s)")


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat(timespec="seconds")


@mirror.command("stats")
@_CONFIG
@_PATH
@_SOURCE
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def stats(config_path: str | None, db_path: str | None, source: str | None, as_json: bool) -> None:
    """What the mirror holds, when it was last loaded, and whether checks may use it."""
    m = _mirror(config_path, db_path, source)
    try:
        st = m.stats()
    except CreditGuardError as exc:
        fail(str(exc))
    # Whole seconds: a long float's digits would read like an ID number to a log scanner.
    age = None if st.loaded_at is None else round(time.time() - st.loaded_at.timestamp())
    usable = age is not None and -300 <= age <= m.max_age_s
    if as_json:
        data: dict[str, Any] = {
            "mirror": str(m.path),
            "subjects": st.subjects,
            "records": st.records,
            "removed": st.removed,
            "loaded_at": _iso(st.loaded_at),
            "imported_at": _iso(st.imported_at),
            "synced_at": _iso(st.synced_at),
            "age_s": age,
            "max_age_s": m.max_age_s,
            "usable": usable,
            "speaks_for_platform": st.speaks_for_platform,
        }
        echo_json(data)
        return
    click.echo(
        f"{m.path}: {st.subjects} subject(s), {st.records} record(s) "
        f"({st.removed} removed, kept for replays)"
    )
    if st.loaded_at is None:
        click.echo("never loaded: checks using it are unverified until an import or a sync")
        return
    state = "usable" if usable else f"TOO OLD (max_age_s {m.max_age_s:g}): checks are unverified"
    origin = "synced from the platform's push feed" if st.speaks_for_platform else "files only"
    click.echo(
        f"data as of {st.loaded_at:%Y-%m-%d %H:%M} CST ({age or 0:.0f} s ago, {state}); {origin}"
    )
