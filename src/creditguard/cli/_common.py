"""Helpers shared by the CLI commands: JSON output, error reporting, the guard of a check."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import click

from creditguard.errors import ConfigError, CreditGuardError, UnknownStepError

if TYPE_CHECKING:
    from creditguard.guard import Guard

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


#: Version of the shape of every ``--json`` document (docs/cli-json.md); raised when a
#: field changes meaning or disappears, not when one is added.
JSON_SCHEMA_VERSION = 1


def echo_json(data: Mapping[str, Any], *, versioned: bool = True) -> None:
    """Print ``data`` as one indented UTF-8 JSON object (Chinese kept readable).

    Every ``--json`` output is one object whose first key is
    ``schema_version`` (:data:`JSON_SCHEMA_VERSION`); ``versioned=False`` prints
    a document whose shape is not ours (a JSON Schema) as it is.
    """
    doc = {"schema_version": JSON_SCHEMA_VERSION, **data} if versioned else data
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))


def fail(message: str, *, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``message`` to stderr as ``error: ...`` and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def fail_from(exc: CreditGuardError) -> NoReturn:
    """Report a creditguard error in plain words and exit 1."""
    fail(str(exc))


def usage_exit_code(exc: CreditGuardError) -> int:
    """2 for mistakes in how the command was called (configuration, unknown step), else 1."""
    return EXIT_USAGE if isinstance(exc, (ConfigError, UnknownStepError)) else EXIT_ERROR


def open_guard(config_path: str | None) -> Guard:
    """The guard a checking command uses (``check``, ``screen``).

    Without a configuration file (no ``--config``, no ``CREDITGUARD_CONFIG``)
    or with a wrong one it exits 2 saying so: a check must never run against
    a silently created, empty local mirror.
    """
    from creditguard.guard import Guard

    try:
        return Guard.from_config(config_path)
    except CreditGuardError as exc:
        fail(str(exc), code=usage_exit_code(exc))
