"""Fixtures of the driver tests (helpers live in remote_helpers.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
