"""Fixtures of the workflow tests: a loopback reference platform and guards configured for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from workflow_helpers import AsyncFactory, SyncFactory, build_guard, fill

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


def _factory(
    cls: type[Any], tmp_path: Path, server: RunningServer, built: list[Any]
) -> Callable[..., Any]:
    def make(**settings: Any) -> Any:
        guard = build_guard(cls, tmp_path / "var", server.url, **settings)
        built.append(guard)
        return guard

    return make


@pytest.fixture
def make_guard(tmp_path: Path, server: RunningServer) -> Iterator[SyncFactory]:
    """Build a :class:`Guard` on the loopback platform; ``[outbox]`` settings as keywords."""
    built: list[Guard] = []
    yield _factory(Guard, tmp_path, server, built)
    for guard in built:
        guard.close()


@pytest.fixture
def make_aguard(tmp_path: Path, server: RunningServer) -> Iterator[AsyncFactory]:
    """Build an :class:`AsyncGuard` on the loopback platform (closed synchronously at teardown)."""
    built: list[AsyncGuard] = []
    yield _factory(AsyncGuard, tmp_path, server, built)
    for guard in built:
        guard.close()
