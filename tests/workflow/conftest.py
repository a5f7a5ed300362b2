"""Fixtures of the workflow tests: a loopback reference platform and guards configured for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import creditguard_platform.plugin as platform_plugin
import pytest
from workflow_helpers import config_dict, fill, measure_list

from creditguard.config import config_from_dict
from creditguard.guard import AsyncGuard, Guard
from creditguard.testing import ReferencePlatform, RunningServer, serve


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def platform() -> ReferencePlatform:
    """A reference platform holding the test subjects' records."""
    ref = ReferencePlatform()
    fill(ref)
    return ref


@pytest.fixture
def server(platform: ReferencePlatform) -> Iterator[RunningServer]:
    with serve(platform) as running:
        yield running


GuardFactory = Callable[..., Any]


def _factory(
    cls: type[Any], tmp_path: Path, server: RunningServer, built: list[Any]
) -> GuardFactory:
    def make(**outbox: Any) -> Any:
        cfg = config_from_dict(config_dict(str(tmp_path / "var"), server.url, **outbox), base_dir=tmp_path)
        guard = cls(
            cfg, measure_lists=[measure_list()], plugins=[platform_plugin], load_entrypoints=False
        )
        built.append(guard)
        return guard

    return make


@pytest.fixture
def make_guard(tmp_path: Path, server: RunningServer) -> Iterator[GuardFactory]:
    """Build a :class:`Guard` on the loopback platform; ``[outbox]`` settings as keywords."""
    built: list[Guard] = []
    yield _factory(Guard, tmp_path, server, built)
    for guard in built:
        guard.close()


@pytest.fixture
def make_aguard(tmp_path: Path, server: RunningServer) -> Iterator[GuardFactory]:
    """Build an :class:`AsyncGuard` on the loopback platform (closed synchronously at teardown)."""
    built: list[AsyncGuard] = []
    yield _factory(AsyncGuard, tmp_path, server, built)
    for guard in built:
        guard.close()
