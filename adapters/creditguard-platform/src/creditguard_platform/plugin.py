"""Registers the ``platform`` source type and channel with creditguard (entry point ``creditguard``).

Configuration::

    [[sources]]
    name = "jiangsu"
    type = "platform"
    base_url = "https://credit.example.gov.cn/api"
    app_key = "320100-CG"
    secret_env = "CREDITGUARD_PLATFORM_SECRET"   # or secret = "..." (tests only)
    include_related = false
    # max_batch = 500

The same entry gives the channel the outbox delivers through, ``creditguard
sync`` reads the push feed with and the webhook receiver verifies pushes with.
"""

from __future__ import annotations

from typing import Any

from creditguard.credentials import read_secret
from creditguard.errors import ConfigError
from creditguard.hookspecs import hookimpl
from creditguard_platform.channel import PlatformChannel
from creditguard_platform.source import MAX_BATCH, PlatformSource

__all__ = [
    "creditguard_register_channels",
    "creditguard_register_sources",
    "make_channel",
    "make_source",
]

#: Options of a ``platform`` entry that only the source uses (the channel ignores them).
_SOURCE_ONLY = frozenset({"include_related", "max_batch"})


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
    key = read_secret(value=secret, env=secret_env, where=f"source {name!r}")
    return PlatformSource(
        name,
        base_url,
        app_key,
        key,
        include_related=bool(include_related),
        max_batch=int(max_batch),
    )


def make_channel(
    *,
    name: str,
    base_url: str,
    app_key: str,
    secret: str | None = None,
    secret_env: str | None = None,
    **others: Any,
) -> PlatformChannel:
    """Build the :class:`PlatformChannel` of a ``[[sources]]`` entry of type ``platform``."""
    unknown = set(others) - _SOURCE_ONLY
    if unknown:
        raise ConfigError(
            f"source {name!r}: unknown option(s) for type 'platform': {', '.join(sorted(unknown))}"
        )
    key = read_secret(value=secret, env=secret_env, where=f"source {name!r}")
    try:
        return PlatformChannel(name, base_url, app_key, key)
    except ValueError as exc:
        raise ConfigError(f"source {name!r}: {exc}") from None


@hookimpl
def creditguard_register_sources(register: Any) -> None:
    """Contribute the ``platform`` source type."""
    register("platform", make_source)


@hookimpl
def creditguard_register_channels(register: Any) -> None:
    """Contribute the ``platform`` channel type (cases, push feed, webhook)."""
    register("platform", make_channel)
