"""The ``creditguard`` command line.

Subcommands live in their own modules and are imported only when used, so
``creditguard --help`` stays fast. Exit codes shared by every command:
0 success, 1 error (bad input, unreachable source), 2 usage error; ``check``
adds 3 review, 4 restrict, 5 deny.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

__all__ = ["main"]

# name -> "module:attribute"; each module owns one command or group.
_COMMANDS: dict[str, str] = {
    "check": "creditguard.cli.check_cmd:check",
    "code": "creditguard.cli.code_cmd:code",
    "config": "creditguard.cli.config_cmd:config",
    "disclosures": "creditguard.cli.disclosures_cmd:disclosures",
    "history": "creditguard.cli.history_cmd:history",
    "journal": "creditguard.cli.journal_cmd:journal",
    "lifecycle": "creditguard.cli.lifecycle_cmd:lifecycle",
    "measures": "creditguard.cli.measures_cmd:measures",
    "mirror": "creditguard.cli.mirror_cmd:mirror",
    "outbox": "creditguard.cli.outbox_cmd:outbox",
    "platform": "creditguard.cli.platform_cmd:platform",
    "plugins": "creditguard.cli.plugins_cmd:plugins",
    "repair": "creditguard.cli.repair_cmd:repair",
    "report": "creditguard.cli.report_cmd:report",
    "screen": "creditguard.cli.screen_cmd:screen",
    "serve": "creditguard.cli.serve_cmd:serve",
    "sync": "creditguard.cli.sync_cmd:sync",
    "workdays": "creditguard.cli.workdays_cmd:workdays",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None or not _available(cmd_name):
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


def _available(name: str) -> bool:
    module_name = _COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="creditguard")
def main(**_: Any) -> None:
    """Credit checks before workflow steps, measure lists, and case feedback."""
