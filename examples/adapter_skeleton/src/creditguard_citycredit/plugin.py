"""Registers the source type ``citycredit`` for ``[[sources]]`` tables."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from creditguard import hookimpl
from creditguard.errors import ConfigError
from creditguard_citycredit.source import CityCreditSource


def make_source(*, name: str, base_url: str, token_env: str) -> CityCreditSource:
    """Build the source from config; the token comes from an environment variable."""
    token = os.environ.get(token_env)
    if not token:
        raise ConfigError(f"source {name!r}: environment variable {token_env} is not set")
    return CityCreditSource(name=name, base_url=base_url, token=token)


@hookimpl
def creditguard_register_sources(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Contribute the ``citycredit`` source type."""
    register("citycredit", make_source)
