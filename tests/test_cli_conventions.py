"""CLI conventions (issue 10): every option has help, every ``--json`` is one documented,
versioned object, and the platform secret's variable has one name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from creditguard.cli import main

ROOT = Path(__file__).resolve().parents[1]
CLI_JSON_DOC = ROOT / "docs" / "cli-json.md"


def _commands(
    group: click.Command, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    yield prefix, group
    if isinstance(group, click.Group):
        for name in group.list_commands(ctx):
            sub = group.get_command(ctx, name)
            assert sub is not None, name
            yield from _commands(sub, (*prefix, name))


COMMANDS = list(_commands(main))


def _id(path: tuple[str, ...]) -> str:
    return " ".join(path) or "creditguard"


def test_the_tree_is_walked() -> None:
    names = {_id(p) for p, _ in COMMANDS}
    assert {"check", "code", "screen", "journal", "plugins", "outbox dead"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[_id(p) for p, _ in COMMANDS])
def test_every_option_has_help(path: tuple[str, ...], command: click.Command) -> None:
    assert (command.help or "").strip(), f"{_id(path)} has no help text"
    missing = [
        "/".join(p.opts)
        for p in command.params
        if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()
    ]
    assert not missing, f"{_id(path)}: options without help: {missing}"
    # click arguments carry no help of their own: the command's help must name each.
    for p in command.params:
        if isinstance(p, click.Argument):
            shown = (p.metavar or p.name or "").upper()
            explained = shown in (command.help or "") or shown.rstrip("S") in (command.help or "")
            assert explained, f"{_id(path)}: argument {shown} is not explained"


JSON_COMMANDS = [
    (p, c)
    for p, c in COMMANDS
    if any("--json" in q.opts for q in c.params if isinstance(q, click.Option))
]


@pytest.mark.parametrize(("path", "command"), JSON_COMMANDS, ids=[_id(p) for p, _ in JSON_COMMANDS])
def test_every_json_output_is_documented(path: tuple[str, ...], command: click.Command) -> None:
    doc = CLI_JSON_DOC.read_text(encoding="utf-8")
    assert f"## `creditguard {_id(path)} --json`" in doc, (
        f"{_id(path)} --json is not in {CLI_JSON_DOC}"
    )


def test_json_helpers_add_the_schema_version() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["code", "91110000710925462X", "--json"])
    assert result.stdout.lstrip().startswith('{\n  "schema_version": 1,')


def test_screen_json_help_matches_its_one_document() -> None:
    screen = dict(COMMANDS)[("screen",)]
    option = next(p for p in screen.params if "--json" in getattr(p, "opts", ()))
    assert "one JSON document" in (option.help or "")
    assert "per row and" not in (option.help or "")


def test_one_name_for_the_platform_secret_variable() -> None:
    # The platform secret's variable is CREDITGUARD_PLATFORM_SECRET wherever a user reads
    # about it; CREDITGUARD_SECRET and JIANGSU_CREDIT_SECRET were seen before.
    variants = re.compile(r"\b(?:CREDITGUARD_SECRET|JIANGSU_CREDIT_SECRET|CG_SECRET)\b")
    files = [
        ROOT / "README.md",
        ROOT / "docs" / "adapters.md",
        ROOT / "docs" / "cli-json.md",
        *ROOT.glob("adapters/*/README.md"),
        *ROOT.glob("examples/demo/*.toml"),
    ]
    offenders = [str(f.relative_to(ROOT)) for f in files if variants.search(f.read_text("utf-8"))]
    assert not offenders, offenders
