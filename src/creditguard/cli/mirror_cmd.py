"""``creditguard mirror``: load and inspect the local SQLite mirror."""

from __future__ import annotations

import click

from creditguard.cli._common import echo_json, fail
from creditguard.errors import CreditGuardError


def _mirror(config_path: str | None, path: str | None) -> object:
    from creditguard.config import load_config
    from creditguard.defaults import mirror_source

    cfg = load_config(config_path)
    if path is not None:
        return mirror_source(name="mirror", path=path)
    for sc in cfg.sources:
        if sc.type == "mirror":
            return mirror_source(
                name=sc.name, data_dir=cfg.data_dir, base_dir=cfg.base_dir, **sc.options
            )
    return mirror_source(name="mirror", data_dir=cfg.data_dir)


@click.group()
def mirror() -> None:
    """Load and inspect the local mirror of credit records."""


@mirror.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), envvar="CREDITGUARD_CONFIG"
)
@click.option(
    "--path", "db_path", type=click.Path(dir_okay=False), help="Mirror file (overrides the config)."
)
@click.option("--json", "as_json", is_flag=True)
def import_(file: str, config_path: str | None, db_path: str | None, as_json: bool) -> None:
    """Import FILE.jsonl: one {"subject": {...}, "record": {...}} per line.

    Every line is checked first; one bad line imports nothing. Importing the
    same file again changes nothing (records are keyed by record_id).
    """
    from creditguard.mirror import SqliteMirror

    try:
        m = _mirror(config_path, db_path)
        assert isinstance(m, SqliteMirror)
        report = m.import_jsonl(file)
    except CreditGuardError as exc:
        fail(str(exc))
    if as_json:
        echo_json(
            {
                "file": file,
                "mirror": str(m.path),
                "lines": report.lines,
                "records": report.records,
                "subjects": report.subjects,
            }
        )
    else:
        click.echo(
            f"imported {report.records} record(s) of {report.subjects} subject(s) into {m.path}"
        )


@mirror.command("stats")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), envvar="CREDITGUARD_CONFIG"
)
@click.option("--path", "db_path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def stats(config_path: str | None, db_path: str | None, as_json: bool) -> None:
    """How many subjects and records the mirror holds."""
    from creditguard.mirror import SqliteMirror

    try:
        m = _mirror(config_path, db_path)
        assert isinstance(m, SqliteMirror)
        subjects, records = m.count()
    except CreditGuardError as exc:
        fail(str(exc))
    if as_json:
        echo_json({"mirror": str(m.path), "subjects": subjects, "records": records})
    else:
        click.echo(f"{m.path}: {subjects} subject(s), {records} record(s)")
