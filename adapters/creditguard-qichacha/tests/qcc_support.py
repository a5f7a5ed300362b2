"""Test helpers: fixtures from ``data/`` and the core exchange driver, bound to this agency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from creditguard.testing.exchange import Handler, answer_always, answer_pages, drive_exchange

__all__ = ["DATA", "always", "by_page", "drive", "load"]

DATA = Path(__file__).parent / "data"

drive = drive_exchange
always = answer_always


def load(name: str) -> Any:
    """A JSON fixture from ``tests/data``."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def by_page(*bodies: Any) -> Handler:
    """A handler answering page ``pageIndex`` with ``bodies[pageIndex - 1]`` (JSON)."""
    return answer_pages("pageIndex", *bodies)
