"""Test setup for the SpiffWorkflow example: the example's measure list, its own step.

Overrides the testing kit's ``creditguard_config`` fixture (docs/testing-kit.md),
as an integrator would in their own ``conftest.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def creditguard_config(creditguard_config: dict[str, Any]) -> dict[str, Any]:
    """The kit's configuration plus what ``creditguard.toml`` of this example sets."""
    config = dict(creditguard_config)
    config["guard"] = {
        **config["guard"],
        "steps": ["licensing.review"],  # 审查: a step of this process, beside spec §8's
        "cache_ttl_s": 0,  # every task sees the platform as it is now (the outage tests)
    }
    config["measures"] = {"packs": False, "files": [str(HERE / "measures" / "*.toml")]}
    return config
