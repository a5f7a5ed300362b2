"""Fixtures of the decision-service tests: a loopback platform and a two-unit service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the decision service needs creditguard[server]")

from fastapi.testclient import TestClient
from server_helpers import Layout, fill, write_layout

from creditguard.server import Service, create_app, load_service_config
from creditguard.testing import ReferencePlatform, RunningServer, serve


@pytest.fixture
def platform() -> ReferencePlatform:
    ref = ReferencePlatform()
    fill(ref)
    return ref


@pytest.fixture
def platform_server(platform: ReferencePlatform) -> Iterator[RunningServer]:
    with serve(platform) as running:
        yield running


@pytest.fixture
def layout(tmp_path: Path, platform_server: RunningServer) -> Layout:
    return write_layout(tmp_path, platform_server.url)


@pytest.fixture
def service(layout: Layout) -> Service:
    return Service.from_config(load_service_config(layout.service_file))


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        yield c
