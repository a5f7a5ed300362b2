"""``creditguard code``: validate a subject code and show its parts."""

from __future__ import annotations

import sys
from typing import Any

import click

from creditguard.cli._common import EXIT_ERROR, EXIT_OK, echo_json
from creditguard.cli._unmask import disclose, journal_path_of_config, unmask_option
from creditguard.codes import SubjectCode, parse_code
from creditguard.errors import InvalidCodeError

__all__ = ["code"]


def _parts(sc: SubjectCode, unmask: bool) -> dict[str, Any]:
    if sc.kind == "person":
        # The masked code and the birth date together are the whole number.
        birth = sc.birth_date if unmask else None
        return {
            "division": sc.division,
            "birth_date": birth.isoformat() if birth else None,
            "sex": sc.sex,
        }
    return {
        "authority": sc.authority,
        "authority_name": sc.authority_name,
        "org_type": sc.org_type,
        "type_name": sc.type_name,
        "division": sc.division,
        "organization_code": sc.organization_code,
    }


def _labelled(value: str | None, label: str | None) -> str:
    return f"{value} ({label})" if label else f"{value} (unknown)"


def _print_human(sc: SubjectCode, unmask: bool) -> None:
    if sc.kind == "person":
        verdict = "valid resident ID number"
        if sc.converted_from_15:
            verdict += " (converted from 15 digits)"
        birth = sc.birth_date
        rows = [
            ("code", sc.code if unmask else sc.masked),
            ("division", sc.division),
            ("birth date", birth.isoformat() if unmask and birth else "(hidden; --unmask)"),
            ("sex", sc.sex or ""),
        ]
    else:
        verdict = "valid unified social credit code"
        rows = [
            ("code", sc.code),
            ("authority", _labelled(sc.authority, sc.authority_name)),
            ("type", _labelled(sc.org_type, sc.type_name)),
            ("division", sc.division),
            ("organisation code", sc.organization_code or ""),
        ]
    click.echo(verdict)
    for name, value in rows:
        click.echo(f"  {name + ':':<19}{value}")
    for warning in sc.warnings:
        if sc.converted_from_15 and sc.kind == "person" and "converted" in warning:
            continue  # already said in the verdict line
        click.echo(f"warning: {warning}")


def _print_invalid(exc: InvalidCodeError) -> None:
    where = f" (position {exc.position})" if exc.position is not None else ""
    click.echo(f"invalid: {exc.reason}{where}", err=True)
    if exc.shown:
        click.echo(f"  {exc.shown}", err=True)
        if exc.position is not None and exc.position <= len(exc.shown):
            click.echo("  " + " " * (exc.position - 1) + "^", err=True)


@click.command("code")
@click.argument("code_text", metavar="CODE")
@click.option(
    "--strict",
    is_flag=True,
    help="Treat warnings (inner organisation code, unknown type) as errors.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as one JSON object (docs/cli-json.md).",
)
@unmask_option
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="CREDITGUARD_CONFIG",
    help="Config file naming the journal that records --unmask (default: $CREDITGUARD_CONFIG).",
)
def code(
    code_text: str, strict: bool, as_json: bool, unmask: bool, config_path: str | None
) -> None:
    """Validate CODE (unified social credit code or resident ID number) and show its parts.

    A resident ID number is shown masked and without its birth date (the two
    together are the whole number); --unmask shows both and is recorded in the
    decision journal. Exit 0 valid, 1 invalid, 2 usage.
    """
    try:
        sc = parse_code(code_text, strict=strict)
    except InvalidCodeError as exc:
        if as_json:
            echo_json(
                {
                    "valid": False,
                    "code": exc.shown,
                    "unmasked": False,
                    "kind": None,
                    "parts": {},
                    "warnings": [],
                    "error": {"reason": exc.reason, "position": exc.position},
                }
            )
        else:
            _print_invalid(exc)
        sys.exit(EXIT_ERROR)
    unmask = unmask and sc.kind == "person"  # organisation codes are public anyway
    if unmask:
        disclose(journal_path_of_config(config_path), command="code --unmask", subjects=[sc.code])
    if as_json:
        echo_json(
            {
                "valid": True,
                "code": sc.code if unmask else sc.masked,
                "unmasked": unmask,
                "kind": sc.kind,
                "parts": _parts(sc, unmask),
                "warnings": list(sc.warnings),
                "error": None,
            }
        )
    else:
        _print_human(sc, unmask)
    sys.exit(EXIT_OK)
