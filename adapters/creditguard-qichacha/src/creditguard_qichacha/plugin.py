"""Entry point: registers the ``qichacha`` source type with creditguard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from creditguard.hookspecs import hookimpl
from creditguard_qichacha.source import create_source

__all__ = ["creditguard_register_sources"]


@hookimpl
def creditguard_register_sources(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register source type ``qichacha``."""
    register("qichacha", create_source)
