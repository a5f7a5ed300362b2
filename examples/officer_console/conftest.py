"""Test setup for the officer console: the guard of the testing kit, with measure packs named.

Overrides the kit's ``creditguard_config`` fixture (docs/testing-kit.md) and
builds the Flask app on the kit's guard, with the push webhook mounted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_app import ConsoleStore, create_app, make_webhook

from creditguard.channels import open_channel


@pytest.fixture
def creditguard_config(creditguard_config: dict[str, Any]) -> dict[str, Any]:
    """The kit's configuration with the statute and (fictional) Jiangsu example lists in force."""
    return {
        **creditguard_config,
        "measures": {"packs": ["measures-statutes", "measures-jiangsu-example"]},
    }


@pytest.fixture
def console(creditguard_guard: Any, tmp_path: Path) -> Iterator[Any]:
    """The Flask app on the kit's guard (loopback reference platform), webhook at /webhook."""
    channel = open_channel(creditguard_guard.config)
    assert channel is not None
    app = create_app(
        creditguard_guard,
        store=ConsoleStore(tmp_path / "console" / "officer-console.db"),
        secret_key="test-only-secret",
        webhook=make_webhook(creditguard_guard, channel, tmp_path / "console" / "sync-state.db"),
    )
    app.testing = True
    yield app
