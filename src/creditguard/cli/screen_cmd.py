"""``creditguard screen``: check every code of a CSV file against one step."""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from typing import TextIO

import click

from creditguard.cli._common import EXIT_ERROR, echo_json, fail, open_guard, usage_exit_code
from creditguard.errors import CreditGuardError

_OUT_COLUMNS = ["outcome", "measures", "verified", "degraded_reason", "decision_id", "error"]


@click.command()
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--code-column", required=True, help="Name of the column holding the codes.")
@click.option("--step", required=True, help="Workflow step, e.g. procurement.register.")
@click.option("--region", required=True, help="6-digit division code.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="Replay as of this date.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="CREDITGUARD_CONFIG",
    help="Config file (default: $CREDITGUARD_CONFIG).",
)
@click.option(
    "--out",
    type=click.File("w", encoding="utf-8"),
    help="Write the input rows plus results as CSV.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document: the summary and a result per row (docs/cli-json.md).",
)
def screen(
    file: TextIO,
    code_column: str,
    step: str,
    region: str,
    as_of: object,
    config_path: str | None,
    out: TextIO | None,
    as_json: bool,
) -> None:
    """Check every code in FILE (CSV) before STEP in REGION.

    Invalid codes are reported on their own row and do not stop the batch.
    Resident ID numbers are masked in every output (use ``check --unmask``
    for one subject).
    Exit status: 0 when every row was decided (whatever the outcomes), 1 when
    some rows could not be (invalid codes, unavailable records under the
    "raise" policy), 2 on usage errors.
    """
    reader = csv.DictReader(file)
    if reader.fieldnames is None or code_column not in reader.fieldnames:
        cols = ", ".join(reader.fieldnames or []) or "none"
        fail(f"column {code_column!r} is not in {file.name} (columns: {cols})", code=2)
    rows = list(reader)
    guard = open_guard(config_path)  # no configuration file: exit 2, never an empty mirror
    day = as_of.date() if as_of is not None else None  # type: ignore[attr-defined]
    codes = [r.get(code_column) or "" for r in rows]
    try:
        with click.progressbar(length=len(codes), label="screening", file=sys.stderr) as bar:
            results = guard.screen(codes, step=step, region=region, as_of=day, progress=bar.update)
    except CreditGuardError as exc:
        guard.close()
        fail(str(exc), code=usage_exit_code(exc))
    guard.close()
    counts = Counter(r.outcome for r in results)
    summary = {
        "rows": len(results),
        **{k: counts.get(k, 0) for k in ("allow", "review", "restrict", "deny", "error")},
    }
    if out is not None:
        writer = csv.DictWriter(out, fieldnames=[*(reader.fieldnames or []), *_OUT_COLUMNS])
        writer.writeheader()
        for src, res in zip(rows, results, strict=True):
            flat = res.as_dict()
            flat["measures"] = " ".join(flat["measures"])
            writer.writerow({**src, **{c: flat[c] for c in _OUT_COLUMNS}})
    if as_json:
        echo_json({"summary": summary, "results": [r.as_dict() for r in results]})
    elif out is None:
        buf = io.StringIO()
        for r in results:
            flat = r.as_dict()
            extra = r.error or " ".join(flat["measures"])
            buf.write(f"{r.row:>6}  {flat['outcome']:8} {flat['input']:20} {extra}\n")
        click.echo(buf.getvalue(), nl=False)
    click.echo(
        "screened {rows}: {allow} allow, {review} review, {restrict} restrict, {deny} deny, {error} error".format(
            **summary
        ),
        err=True,
    )
    sys.exit(EXIT_ERROR if summary["error"] else 0)
