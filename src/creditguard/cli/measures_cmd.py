"""``creditguard measures``: validate, show, explain and compare measure lists; print the schema.

``show`` and ``explain`` work on installed lists: those named by ``--config``
(its ``[measures]`` table), files given with ``--list``, and the lists of
installed packs (unless ``--no-packs`` or the config says ``packs = false``;
example packs only when the config names them). ``show`` names where each
list came from.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import click

from creditguard.cli._common import EXIT_ERROR, EXIT_OK, echo_json, fail, fail_from
from creditguard.clock import today_cst
from creditguard.errors import CreditGuardError, Problem
from creditguard.measures.catalog import MeasureCatalog, ResolvedList
from creditguard.models import MeasureList

__all__ = ["measures"]


def _today() -> date:
    # Dates in the spec are China Standard Time.
    return today_cst()


def _summary(problems: Sequence[Problem]) -> str:
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def _problem_json(p: Problem) -> dict[str, Any]:
    return {
        "severity": p.severity,
        "file": p.file,
        "line": p.line,
        "measure": p.measure,
        "field": p.field,
        "message": p.message,
    }


@click.group()
def measures() -> None:
    """Measure lists: validate files, see what a region's list does, compare versions."""


# --- validate -----------------------------------------------------------------------------------


@measures.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.option(
    "--packs/--no-packs",
    default=True,
    show_default=True,
    help="Use installed packs' lists as parents.",
)
@click.option(
    "--list",
    "extra",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Another list to use as a parent (repeatable).",
)
def validate(files: tuple[str, ...], as_json: bool, packs: bool, extra: tuple[str, ...]) -> None:
    """Check FILE... and report every problem at once; exit 1 on errors, 0 with warnings only."""
    from creditguard.measures.loader import load_measure_list
    from creditguard.measures.validate import validate_files

    context: list[MeasureList] = []
    try:
        for path in extra:
            context.append(load_measure_list(path))
        if packs:
            context += _pack_lists()
    except CreditGuardError as exc:
        fail_from(exc)
    problems = validate_files(files, context=context)
    if as_json:
        echo_json({"problems": [_problem_json(p) for p in problems], "summary": _summary(problems)})
    else:
        for p in problems:
            click.echo(str(p))
        click.echo(_summary(problems))
    sys.exit(EXIT_ERROR if any(p.severity == "error" for p in problems) else EXIT_OK)


def _pack_lists() -> list[MeasureList]:
    from creditguard.measures.packs import installed_pack_lists

    return installed_pack_lists()


# --- catalog for show / explain -------------------------------------------------------------------


def _catalog_options(f: Any) -> Any:
    f = click.option("--no-packs", is_flag=True, help="Ignore installed measure packs.")(f)
    f = click.option(
        "--list",
        "list_files",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False),
        help="A measure-list file to install (repeatable).",
    )(f)
    f = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="creditguard.toml whose [measures] to use.",
    )(f)
    return f


def _build_catalog(
    config_path: str | None, list_files: tuple[str, ...], no_packs: bool
) -> MeasureCatalog:
    from creditguard.config import Config, load_config
    from creditguard.measures.catalog import ListOrigin
    from creditguard.measures.installed import build_catalog
    from creditguard.measures.loader import load_measure_list
    from creditguard.plugins import Hooks, build_plugin_manager

    config = load_config(config_path) if config_path is not None else Config()
    if no_packs:
        config = config.model_copy(
            update={"measures": config.measures.model_copy(update={"packs": False})}
        )
    hooks = Hooks(build_plugin_manager())
    given = [(load_measure_list(p), p) for p in list_files]
    # --list files are the operator's own lists: one place, like [measures] files.
    catalog = build_catalog(config, hooks)
    if given:
        own = {lst.region for lst, _ in given}
        clash = sorted(
            f"region {lst.region}: {catalog.origin(lst.region, lst.version)} and --list files"
            for lst in catalog.lists()
            if lst.region in own
            and (o := catalog.origin(lst.region, lst.version)) is not None
            and o.kind != "file"
        )
        if clash:
            fail(
                "measure-list conflict, never settled by overriding one with the other: "
                + "; ".join(sorted(set(clash)))
                + " (use --no-packs, or name the packs in the config)"
            )
        for lst, path in given:
            catalog.add(lst, ListOrigin("file", path))
    if not catalog.lists():
        fail(
            "no measure list is installed: give --list FILE or --config FILE, or install a measure pack"
            + ("".join(f"\n  {n}" for n in catalog.notes))
        )
    problems = catalog.problems()
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        for p in errors:
            click.echo(str(p), err=True)
        fail(
            f"the installed measure lists are invalid ({_summary(problems)}); run 'creditguard measures validate'"
        )
    return catalog


def _resolve(catalog: MeasureCatalog, region: str, at: date) -> ResolvedList:
    try:
        return catalog.resolve(region, at)
    except CreditGuardError as exc:
        fail_from(exc)


_REGION = click.option("--region", required=True, help="6-digit region code, e.g. 320100.")
_AT = click.option(
    "--at",
    "at",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Date to resolve for (default: today, China time).",
)


def _origin(catalog: MeasureCatalog, region: str, version: str) -> str:
    origin = catalog.origin(region, version)
    return str(origin) if origin is not None else "unknown"


def _chain_text(resolved: ResolvedList) -> str:
    return " ← ".join(f"{r} {v}" for r, v in resolved.chain)


# --- show -----------------------------------------------------------------------------------------


@measures.command()
@_REGION
@_AT
@click.option("--json", "as_json", is_flag=True, help="Print the resolved list as JSON.")
@_catalog_options
def show(
    region: str,
    at: datetime | None,
    as_json: bool,
    config_path: str | None,
    list_files: tuple[str, ...],
    no_packs: bool,
) -> None:
    """The list in force for --region on --at, with where each measure came from."""
    from creditguard.measures.applicability import describe_scope

    on = at.date() if at else _today()
    try:
        catalog = _build_catalog(config_path, list_files, no_packs)
    except CreditGuardError as exc:
        fail_from(exc)
    resolved = _resolve(catalog, region, on)
    if as_json:
        echo_json(
            {
                "region": region,
                "list_region": resolved.region,
                "version": resolved.version,
                "on": on.isoformat(),
                "chain": [
                    {
                        "region": r,
                        "version": v,
                        "origin": _origin(catalog, r, v),
                        # measures of a platform list not applied, and why (spec §5.1)
                        "refused": [
                            {"measure": p.measure, "field": p.field, "message": p.message}
                            for p in catalog.refused.get((r, v), ())
                        ],
                    }
                    for r, v in resolved.chain
                ],
                "notes": list(catalog.notes),
                "measures": [
                    {
                        **rm.measure.model_dump(mode="json"),
                        "list_region": rm.list_region,
                        "list_version": rm.list_version,
                        "in_force": rm.measure.in_force(on),
                    }
                    for rm in resolved.measures
                ],
                "withdrawn": [
                    {"code": c, "reason": r, "by": resolved.withdrawn_by.get(c)}
                    for c, r in sorted(resolved.withdrawn.items())
                ],
            }
        )
        return
    click.echo(f"measure list in force for {region} on {on}: {_chain_text(resolved)}")
    for r, v in resolved.chain:
        lst = next(x for x in catalog.versions(r) if x.version == v)
        click.echo(
            f"  {r} {v} from {_origin(catalog, r, v)}; {lst.standing}; issued by {lst.issued_by or '?'}"
        )
        for p in catalog.refused.get((r, v), ()):
            where = p.measure or p.field or "?"
            click.echo(f"    not applied: {where}: {p.message}")
    for note in catalog.notes:
        click.echo(f"  note: {note}")
    for rm in resolved.measures:
        m = rm.measure
        state = "" if m.in_force(on) else "  [not in force on this date]"
        click.echo(
            f"{m.code}  {m.title}  {m.effect}  {m.category}  from {rm.list_region} {rm.list_version}{state}"
        )
        click.echo(f"    applies to: {describe_scope(m)}")
        click.echo(f"    basis: {'; '.join(str(b) for b in m.legal_basis)}")
    for code, reason in sorted(resolved.withdrawn.items()):
        click.echo(
            f"{code}  withdrawn by {resolved.withdrawn_by.get(code, resolved.region)}: {reason}"
        )
    click.echo(f"{len(resolved.measures)} measures, {len(resolved.withdrawn)} withdrawn")


# --- explain --------------------------------------------------------------------------------------


@measures.command()
@_REGION
@click.option("--step", required=True, help="Workflow step, e.g. procurement.bid.")
@click.option(
    "--list-kind",
    required=True,
    type=click.Choice(["blacklist", "focus"]),
    help="The record's list kind.",
)
@click.option("--domain", help="The record's domain (default: any).")
@click.option(
    "--role",
    type=click.Choice(["self", "legal_representative", "responsible_person", "related_person"]),
    default="self",
    show_default=True,
    help="The subject's role in the record.",
)
@_AT
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@_catalog_options
def explain(
    region: str,
    step: str,
    list_kind: str,
    domain: str | None,
    role: str,
    at: datetime | None,
    as_json: bool,
    config_path: str | None,
    list_files: tuple[str, ...],
    no_packs: bool,
) -> None:
    """Which measures would apply to a record at --step, and why each other one does not."""
    from creditguard.measures.applicability import explain_step

    on = at.date() if at else _today()
    try:
        catalog = _build_catalog(config_path, list_files, no_packs)
        commitment_steps: tuple[str, ...] = ("licensing.commitment",)
        if config_path is not None:
            from creditguard.config import load_config

            commitment_steps = load_config(config_path).guard.commitment_steps
    except CreditGuardError as exc:
        fail_from(exc)
    resolved = _resolve(catalog, region, on)
    verdicts = explain_step(
        resolved, step, list_kind, domain, on, role=role, commitment_steps=commitment_steps
    )
    if as_json:
        echo_json(
            {
                "region": region,
                "step": step,
                "list_kind": list_kind,
                "domain": domain,
                "role": role,
                "on": on.isoformat(),
                "chain": [{"region": r, "version": v} for r, v in resolved.chain],
                "verdicts": [
                    {
                        "code": v.code,
                        "title": v.title,
                        "effect": v.effect,
                        "status": v.status,
                        "reason": v.reason,
                        "list_region": v.list_region,
                        "list_version": v.list_version,
                    }
                    for v in verdicts
                ],
            }
        )
        return
    click.echo(
        f"{region} on {on} ({_chain_text(resolved)}), step {step}, {list_kind}, {domain or 'any domain'}:"
    )
    for v in verdicts:
        if v.status == "withdrawn":
            click.echo(f"{v.code}  {v.reason}")
        else:
            click.echo(f"{v.code}  {v.title}  {v.effect}  {v.reason}")
    applying = [v for v in verdicts if v.applies]
    click.echo(f"{len(applying)} of {len(resolved.measures)} measures apply")


# --- diff -----------------------------------------------------------------------------------------


@measures.command()
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff(old: str, new: str, as_json: bool) -> None:
    """Added, removed and changed measures from list file OLD to NEW, field by field."""
    from creditguard.measures.diff import diff_lists
    from creditguard.measures.loader import load_measure_list

    try:
        a, b = load_measure_list(old), load_measure_list(new)
    except CreditGuardError as exc:
        fail_from(exc)
    d = diff_lists(a, b)
    if as_json:
        echo_json(
            {
                "head": [{"field": c.field, "old": c.old, "new": c.new} for c in d.head],
                "measures": [
                    {
                        "code": mc.code,
                        "kind": mc.kind,
                        "changes": [
                            {"field": c.field, "old": c.old, "new": c.new} for c in mc.changes
                        ],
                    }
                    for mc in d.measures
                ],
                "withdrawals": [
                    {"code": c.field, "old": c.old, "new": c.new} for c in d.withdrawals
                ],
            }
        )
        return
    if d.empty:
        click.echo("no differences")
        return
    for c in d.head:
        click.echo(f"~ {c.field}: {c.old} → {c.new}")
    for mc in d.measures:
        if mc.kind == "added" and mc.new is not None:
            click.echo(f"+ {mc.code}  {mc.new.title}  {mc.new.effect}")
        elif mc.kind == "removed" and mc.old is not None:
            click.echo(f"- {mc.code}  {mc.old.title}  {mc.old.effect}")
        else:
            click.echo(f"~ {mc.code}")
            for c in mc.changes:
                click.echo(f"    {c.field}: {c.old} → {c.new}")
    for c in d.withdrawals:
        if c.old is None:
            click.echo(f"+ withdraws {c.field}: {c.new}")
        elif c.new is None:
            click.echo(f"- withdraws {c.field}")
        else:
            click.echo(f"~ withdraws {c.field}: reason {c.old} → {c.new}")
    added = sum(1 for m in d.measures if m.kind == "added")
    removed = sum(1 for m in d.measures if m.kind == "removed")
    changed = len(d.measures) - added - removed
    click.echo(f"{added} added, {removed} removed, {changed} changed")


# --- schema ---------------------------------------------------------------------------------------


@measures.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to a file instead of stdout.",
)
def schema(output: str | None) -> None:
    """JSON Schema of the list file format, for editors (e.g. taplo / Even Better TOML)."""
    import json

    from creditguard.measures.schema import measure_list_schema

    text = json.dumps(measure_list_schema(), ensure_ascii=False, indent=2)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        click.echo(f"wrote {output}")
    else:
        click.echo(text)
