"""``creditguard screen``: check every code of a CSV file against one step.

Streamed: the file is read a block ahead of the rows written (a million-line
file is never held whole, nor its decisions), and each output row is written
as its block is decided.
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from typing import IO, Any, TextIO

import click

from creditguard.cli._common import (
    EXIT_ERROR,
    JSON_SCHEMA_VERSION,
    fail,
    open_guard,
    usage_exit_code,
)
from creditguard.errors import CreditGuardError
from creditguard.screening import BLOCK_SIZE

_OUT_COLUMNS = ["outcome", "measures", "verified", "degraded_reason", "decision_id", "error"]
_OUTCOMES = ("allow", "review", "restrict", "deny", "error")
#: --json rows wait in memory up to this size, then in a temporary file.
_SPOOL_BYTES = 8 << 20


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
    for one subject). Rows are written as they are decided, so a file of a
    million codes takes little memory.
    Exit status: 0 when every row was decided (whatever the outcomes), 1 when
    some rows could not be (invalid codes, unavailable records under the
    "raise" policy), 2 on usage errors.
    """
    total = _count_rows(file)
    reader = csv.DictReader(file)
    if reader.fieldnames is None or code_column not in reader.fieldnames:
        cols = ", ".join(reader.fieldnames or []) or "none"
        fail(f"column {code_column!r} is not in {file.name} (columns: {cols})", code=2)
    guard = open_guard(config_path)  # no configuration file: exit 2, never an empty mirror
    day = as_of.date() if as_of is not None else None  # type: ignore[attr-defined]
    pending: deque[dict[str, str]] = deque()  # input rows read whose results are not out yet

    def codes() -> Iterator[str]:
        for src in reader:
            pending.append(src)
            yield src.get(code_column) or ""

    text_rows = out is None and not as_json
    counts: Counter[str] = Counter()
    # --json prints one document with the summary first: its rows wait, already laid out.
    with tempfile.SpooledTemporaryFile(mode="w+", max_size=_SPOOL_BYTES, encoding="utf-8") as spool:
        try:
            # Rows printed to a terminal show the progress themselves (a bar would mix in).
            with _progress_bar(total, hidden=text_rows and sys.stdout.isatty()) as bar:
                # A bad step or region raises here, before the --out file is begun.
                results = guard.iter_screen(
                    codes(), step=step, region=region, as_of=day, progress=bar.update
                )
                writer = None
                if out is not None:
                    columns = [*(reader.fieldnames or []), *_OUT_COLUMNS]
                    writer = csv.DictWriter(out, fieldnames=columns)
                    writer.writeheader()
                for res in results:
                    src = pending.popleft()
                    counts[res.outcome] += 1
                    flat = res.as_dict()
                    if writer is not None:
                        cells = {**flat, "measures": " ".join(flat["measures"])}
                        writer.writerow({**src, **{c: cells[c] for c in _OUT_COLUMNS}})
                    if as_json:
                        _spool_result(spool, flat)
                    elif text_rows:
                        extra = res.error or " ".join(flat["measures"])
                        click.echo(f"{res.row:>6}  {flat['outcome']:8} {flat['input']:20} {extra}")
        except CreditGuardError as exc:
            guard.close()
            fail(str(exc), code=usage_exit_code(exc))
        guard.close()
        summary = {"rows": sum(counts.values()), **{k: counts.get(k, 0) for k in _OUTCOMES}}
        if as_json:
            _echo_document(summary, spool)
    click.echo(
        "screened {rows}: {allow} allow, {review} review, {restrict} restrict, {deny} deny, {error} error".format(
            **summary
        ),
        err=True,
    )
    sys.exit(EXIT_ERROR if summary["error"] else 0)


def _count_rows(file: TextIO) -> int | None:
    """Data rows of a seekable CSV file (a first pass, then back); ``None`` for a pipe.

    The count gives the progress bar its percentage and time left; reading a
    file twice costs far less than screening it.
    """
    try:
        if not file.seekable():
            return None
        start = file.tell()
    except (OSError, ValueError):
        return None
    try:
        rows = sum(1 for row in csv.reader(file) if row)  # DictReader skips empty lines too
    except csv.Error:
        rows = None  # the screening pass reports what is wrong with the file, on its row
    file.seek(start)
    return None if rows is None else max(rows - 1, 0)  # less the header


def _progress_bar(total: int | None, *, hidden: bool) -> Any:
    """The bar on stderr: with a length when the rows were counted, else a running count."""
    common: dict[str, Any] = {"label": "screening", "file": sys.stderr, "hidden": hidden}
    if total is not None:
        return click.progressbar(length=total, **common)
    # click wants an iterable or a length; a generator has no length, which gives a bar
    # of unknown length that the screening's progress callback advances.
    return click.progressbar(_nothing(), show_pos=True, **common)


def _nothing() -> Iterator[int]:
    yield from ()


def _spool_result(spool: IO[str], flat: Mapping[str, Any]) -> None:
    """Append one result as an element of the document's ``results`` list (indent 2, level 2)."""
    item = json.dumps(flat, ensure_ascii=False, indent=2, default=str)
    if spool.tell():
        spool.write(",\n")
    spool.write("\n".join("    " + line for line in item.splitlines()))


def _echo_document(summary: Mapping[str, int], spool: IO[str]) -> None:
    """Print the one JSON document, exactly as ``echo_json`` would lay it out."""
    empty = json.dumps(
        {"schema_version": JSON_SCHEMA_VERSION, "summary": summary, "results": []},
        ensure_ascii=False,
        indent=2,
    )
    if not spool.tell():
        click.echo(empty)
        return
    head, _, tail = empty.rpartition("[]")  # "results" is the last key: tail is "\n}"
    click.echo(head + "[\n", nl=False)
    spool.seek(0)
    while chunk := spool.read(BLOCK_SIZE * 1024):
        click.echo(chunk, nl=False)
    click.echo("\n  ]" + tail)
