"""``creditguard config``: show the configuration in effect, or its JSON Schema."""

from __future__ import annotations

import click

from creditguard.cli._common import EXIT_USAGE, echo_json, fail
from creditguard.errors import CreditGuardError


@click.group()
def config() -> None:
    """Inspect the configuration file (creditguard.toml)."""


@config.command("show")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="CREDITGUARD_CONFIG",
    help="Config file (default: $CREDITGUARD_CONFIG; built-in defaults when unset).",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show(config_path: str | None, as_json: bool) -> None:
    """Validate the configuration and print it with every default filled in.

    Secrets are shown as "***": literal ``secret``/``token``/``password``
    options and passwords inside URLs such as ``postgresql://`` DSNs. A
    configuration error is reported in plain words (exit 2).
    """
    from creditguard.config import load_config, redacted

    try:
        cfg = load_config(config_path)
        data = redacted(cfg)
        data["resolved"] = {
            "data_dir": str(cfg.data_dir),
            "measure_files": [str(p) for p in cfg.measure_files()],
        }
    except CreditGuardError as exc:
        fail(str(exc), code=EXIT_USAGE)
    if as_json:
        echo_json(data)
        return
    click.echo(f"configuration: {config_path or '(built-in defaults)'}")
    for section, values in data.items():
        click.echo(f"[{section}] {values}")


@config.command("schema")
def schema() -> None:
    """Print the JSON Schema of creditguard.toml (for editors that validate as you type)."""
    from creditguard.config import Config

    echo_json(Config.model_json_schema(), versioned=False)
