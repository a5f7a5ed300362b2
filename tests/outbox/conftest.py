"""Fixtures of the outbox, cases, sync and webhook tests (helpers live in outbox_helpers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from outbox_helpers import make_decision

from creditguard.models import Decision
from creditguard.outbox import SqliteOutbox
from creditguard.testing import ReferencePlatform


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def decision_factory() -> Callable[..., Decision]:
    return make_decision


@pytest.fixture
def platform() -> ReferencePlatform:
    return ReferencePlatform()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[SqliteOutbox]:
    box = SqliteOutbox(tmp_path / "outbox.db")
    yield box
    box.close()
