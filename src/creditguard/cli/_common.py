"""Helpers shared by the CLI commands: JSON output and error reporting."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from creditguard.errors import CreditGuardError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def echo_json(data: Any) -> None:
    """Print ``data`` as indented UTF-8 JSON (Chinese kept readable)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def fail(message: str, *, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``message`` to stderr as ``error: ...`` and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def fail_from(exc: CreditGuardError) -> NoReturn:
    """Report a creditguard error in plain words and exit 1."""
    fail(str(exc))
