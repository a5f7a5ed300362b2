"""Fixtures of the platform adapter's tests (helpers live in platform_helpers.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
