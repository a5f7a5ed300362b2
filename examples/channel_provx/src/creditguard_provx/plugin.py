"""Registers the ``provx`` channel type (entry point ``creditguard``)."""

from __future__ import annotations

from typing import Any

from creditguard.credentials import read_secret
from creditguard.errors import ConfigError
from creditguard.hookspecs import hookimpl
from creditguard_provx.channel import ProvXChannel

__all__ = ["creditguard_register_channels", "make_channel"]


def make_channel(
    *,
    name: str,
    base_url: str,
    key_id: str,
    secret: str | None = None,
    secret_env: str | None = None,
    **unknown: Any,
) -> ProvXChannel:
    """The channel of a ``[[sources]]`` entry of type ``provx``."""
    if unknown:
        raise ConfigError(f"source {name!r}: unknown option(s) for type 'provx': {sorted(unknown)}")
    key = read_secret(value=secret, env=secret_env, where=f"source {name!r}")
    return ProvXChannel(name, base_url, key_id, key)


@hookimpl
def creditguard_register_channels(register: Any) -> None:
    """Contribute the ``provx`` channel type."""
    register("provx", make_channel)
