"""Registers the ``platform`` source type with creditguard (entry point ``creditguard``).

Configuration::

    [[sources]]
    name = "jiangsu"
    type = "platform"
    base_url = "https://credit.example.gov.cn/api"
    app_key = "320100-CG"
    secret_env = "JIANGSU_CREDIT_SECRET"   # or secret = "..." (tests only)
    include_related = false
    # max_batch = 500
"""

from __future__ import annotations

import os
from typing import Any

from creditguard.errors import ConfigError
from creditguard.hookspecs import hookimpl
from creditguard_platform.source import MAX_BATCH, PlatformSource

__all__ = ["creditguard_register_sources", "make_source"]


def make_source(
    *,
    name: str,
    base_url: str,
    app_key: str,
    secret: str | None = None,
    secret_env: str | None = None,
    include_related: bool = False,
    max_batch: int = MAX_BATCH,
    **unknown: Any,
) -> PlatformSource:
    """Build a :class:`PlatformSource` from a ``[[sources]]`` table's options."""
    if unknown:
        raise ConfigError(
            f"source {name!r}: unknown option(s) for type 'platform': {', '.join(sorted(unknown))}"
        )
    if (secret is None) == (secret_env is None):
        raise ConfigError(
            f"source {name!r}: give exactly one of 'secret_env' (recommended) and 'secret'"
        )
    if secret_env is not None:
        secret = os.environ.get(secret_env)
        if not secret:
            raise ConfigError(
                f"source {name!r}: environment variable {secret_env} (the secret) is not set"
            )
    assert secret is not None
    return PlatformSource(
        name,
        base_url,
        app_key,
        secret,
        include_related=bool(include_related),
        max_batch=int(max_batch),
    )


@hookimpl
def creditguard_register_sources(register: Any) -> None:
    """Contribute the ``platform`` source type."""
    register("platform", make_source)
