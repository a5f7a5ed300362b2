"""``creditguard plugins``: which plugins are installed, with versions and hooks."""

from __future__ import annotations

import click

from creditguard.cli._common import echo_json, fail
from creditguard.errors import CreditGuardError


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins(as_json: bool) -> None:
    """List plugins (entry points of group 'creditguard' and built-in defaults)."""
    from creditguard.plugins import build_plugin_manager, plugin_infos

    try:
        infos = plugin_infos(build_plugin_manager())
    except CreditGuardError as exc:
        fail(str(exc))
    if as_json:
        plugins = [{"name": i.name, "version": i.version, "hooks": list(i.hooks)} for i in infos]
        echo_json({"plugins": plugins})
        return
    for i in infos:
        click.echo(f"{i.name} {i.version or '-'}")
        for h in i.hooks:
            click.echo(f"    {h}")
