"""Entry point: registers the ``tianyancha`` source type with creditguard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from creditguard.hookspecs import hookimpl
from creditguard_tianyancha.source import create_source

__all__ = ["creditguard_register_sources"]


@hookimpl
def creditguard_register_sources(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register source type ``tianyancha``."""
    register("tianyancha", create_source)
