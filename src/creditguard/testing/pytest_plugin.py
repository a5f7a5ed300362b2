"""pytest fixtures for testing your own workflows against a reference platform.

Installed with creditguard (entry point ``pytest11``), so the fixtures are
available in any test suite, no import needed:

``creditguard_platform``
    A fresh :class:`~creditguard.testing.ReferencePlatform`, served over
    loopback for the duration of the test. Set it up and inspect it::

        creditguard_platform.add_record("91320100MA1W2K7D41", list_kind="blacklist",
                                        domain="court_enforcement")
        creditguard_platform.inject(Fault.status(503, times=1))
        creditguard_platform.feedback_for("91320100MA1W2K7D41")[0]["action"]
        creditguard_platform.requests_log

``creditguard_platform_url``
    Its base URL (``http://127.0.0.1:<port>/api``).

``creditguard_platform_server``
    The :class:`~creditguard.testing.RunningServer` behind both.

``creditguard_client``
    An ``httpx.Client`` on that URL that signs every request (spec §2).

``creditguard_config``
    The configuration (a dict in the ``creditguard.toml`` shape) the guard
    fixture uses: one ``platform`` source pointing at the reference platform,
    data in the test's ``tmp_path``. Override this fixture in your
    ``conftest.py`` to add measure files or failure policies.

``creditguard_guard``
    ``Guard.from_config(...)`` built from ``creditguard_config`` (written to
    ``tmp_path/creditguard.toml``); closed after the test. Skips the test
    when this creditguard has no ``Guard``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

    from creditguard.testing.reference import ReferencePlatform
    from creditguard.testing.server import RunningServer

__all__ = [
    "creditguard_client",
    "creditguard_config",
    "creditguard_guard",
    "creditguard_platform",
    "creditguard_platform_server",
    "creditguard_platform_url",
    "to_toml",
]


@pytest.fixture
def creditguard_platform_server() -> Iterator[RunningServer]:
    """A fresh reference platform served on an ephemeral loopback port."""
    from creditguard.testing.reference import ReferencePlatform
    from creditguard.testing.server import serve

    with serve(ReferencePlatform()) as running:
        yield running


@pytest.fixture
def creditguard_platform(creditguard_platform_server: RunningServer) -> ReferencePlatform:
    """The reference platform the other fixtures talk to."""
    return creditguard_platform_server.platform


@pytest.fixture
def creditguard_platform_url(creditguard_platform_server: RunningServer) -> str:
    """Base URL of the served reference platform (path prefix included)."""
    return creditguard_platform_server.url


@pytest.fixture
def creditguard_client(creditguard_platform_server: RunningServer) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` that signs requests to the reference platform with its default key."""
    import httpx

    from creditguard.testing.auth import SigningAuth
    from creditguard.testing.state import DEFAULT_APP_KEY, DEFAULT_SECRET

    auth = SigningAuth(DEFAULT_APP_KEY, DEFAULT_SECRET)
    with httpx.Client(base_url=creditguard_platform_server.url, auth=auth, timeout=10) as client:
        yield client


@pytest.fixture
def creditguard_config(
    creditguard_platform_server: RunningServer, tmp_path: Path
) -> dict[str, Any]:
    """The guard's configuration: the reference platform as its only source."""
    from creditguard.testing.state import DEFAULT_APP_KEY, DEFAULT_SECRET

    return {
        "guard": {"unit_code": "320100-TEST", "data_dir": str(tmp_path / "creditguard")},
        "sources": [
            {
                "name": "platform",
                "type": "platform",
                "base_url": creditguard_platform_server.url,
                "app_key": DEFAULT_APP_KEY,
                "secret": DEFAULT_SECRET,
            }
        ],
    }


@pytest.fixture
def creditguard_guard(creditguard_config: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    """A ``Guard`` wired to the reference platform; skips when ``Guard`` is unavailable."""
    try:
        from creditguard.guard import Guard
    except ImportError as exc:
        pytest.skip(f"creditguard.guard.Guard is not available: {exc}")
    path = tmp_path / "creditguard.toml"
    path.write_text(to_toml(creditguard_config), encoding="utf-8")
    guard = Guard.from_config(path)
    try:
        yield guard
    finally:
        close = getattr(guard, "close", None)
        if callable(close):
            close()


# --- a small TOML writer for configuration dicts ---------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def to_toml(config: Mapping[str, Any]) -> str:
    """Render a configuration dict as TOML (tables, arrays of tables, scalars, lists)."""
    lines: list[str] = []
    _table(config, [], lines)
    return "\n".join(lines).strip() + "\n"


def _table(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    nested: list[tuple[str, Any, bool]] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            nested.append((key, value, False))
        elif (
            isinstance(value, list | tuple) and value and all(isinstance(v, Mapping) for v in value)
        ):
            nested.append((key, value, True))
        elif value is not None:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value, is_array in nested:
        full = ".".join(_key(k) for k in [*path, key])
        if is_array:
            for item in value:
                lines.extend(["", f"[[{full}]]"])
                _table(item, [*path, key], lines)
        else:
            lines.extend(["", f"[{full}]"])
            _table(value, [*path, key], lines)


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{ "
            + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
            + " }"
        )
    return json.dumps(str(value), ensure_ascii=False)
