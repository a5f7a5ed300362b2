"""Fixtures for the testing kit's own tests.

The kit's pytest plugin is imported here too, so these tests run whether or
not creditguard is installed with its ``pytest11`` entry point (conftest
definitions take precedence over the plugin's, so nothing is registered twice).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from creditguard.testing import ReferencePlatform, SigningAuth
from creditguard.testing.pytest_plugin import (  # noqa: F401 - re-exported fixtures
    creditguard_client,
    creditguard_config,
    creditguard_guard,
    creditguard_platform,
    creditguard_platform_server,
    creditguard_platform_url,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def platform() -> ReferencePlatform:
    return ReferencePlatform()


@pytest.fixture
def client(platform: ReferencePlatform) -> Iterator[httpx.Client]:
    auth = SigningAuth("test-key", "test-secret")
    with httpx.Client(
        transport=platform.mock_transport(), base_url="http://platform.test/api", auth=auth
    ) as c:
        yield c
