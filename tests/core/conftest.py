"""Fixtures for the core tests: a filled SQLite mirror, measure lists, guard factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _coredata import measure_lists, mirror_rows, write_jsonl

from creditguard.config import config_from_dict
from creditguard.guard import AsyncGuard, Guard
from creditguard.mirror import SqliteMirror
from creditguard.models import MeasureList


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def records_file(tmp_path: Path) -> Path:
    """The test records as a JSONL file."""
    return write_jsonl(tmp_path / "records.jsonl", mirror_rows())


@pytest.fixture
def mirror(tmp_path: Path, records_file: Path) -> Iterator[SqliteMirror]:
    """A SQLite mirror holding every test subject and record."""
    m = SqliteMirror(tmp_path / "mirror.db")
    m.import_jsonl(records_file)
    yield m
    m.close()


@pytest.fixture
def lists() -> list[MeasureList]:
    """The 320100 city list (extending the 320000 province list)."""
    return measure_lists()


def _merged(overrides: dict[str, Any] | None, tmp_path: Path) -> dict[str, Any]:
    raw: dict[str, Any] = {"guard": {"data_dir": str(tmp_path)}, "measures": {"packs": False}}
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return raw


GuardFactory = Callable[..., Any]


def _factory(
    cls: type[Any], tmp_path: Path, mirror: SqliteMirror, lists: list[MeasureList], built: list[Any]
) -> GuardFactory:
    def make(
        config: dict[str, Any] | None = None,
        *,
        sources: Sequence[Any] | None = None,
        plugins: Sequence[object] = (),
        measure_lists: Sequence[MeasureList] | None = None,
        **kwargs: Any,
    ) -> Any:
        guard = cls(
            config_from_dict(_merged(config, tmp_path), base_dir=tmp_path),
            sources=[mirror] if sources is None else sources,
            measure_lists=lists if measure_lists is None else measure_lists,
            plugins=plugins,
            load_entrypoints=False,
            **kwargs,
        )
        built.append(guard)
        return guard

    return make


@pytest.fixture
def make_guard(
    tmp_path: Path, mirror: SqliteMirror, lists: list[MeasureList]
) -> Iterator[GuardFactory]:
    """Build a sync :class:`Guard` over the test mirror: ``make_guard(config_overrides, sources=..., plugins=...)``."""
    built: list[Any] = []
    yield _factory(Guard, tmp_path, mirror, lists, built)
    for g in built:
        g.close()


@pytest.fixture
def make_async_guard(
    tmp_path: Path, mirror: SqliteMirror, lists: list[MeasureList]
) -> Iterator[GuardFactory]:
    """Build an :class:`AsyncGuard` the same way as ``make_guard``."""
    built: list[Any] = []
    yield _factory(AsyncGuard, tmp_path, mirror, lists, built)
    for g in built:
        g.close()


@pytest.fixture
def guard(make_guard: GuardFactory) -> Guard:
    """A sync guard with the default test configuration."""
    g: Guard = make_guard()
    return g


FAKE_MODULE = "cg_fake_entrypoint_plugin"

_FAKE_SOURCE = """
from creditguard import hookimpl

SEEN = []


@hookimpl
def creditguard_decision_made(decision, context):
    SEEN.append(decision.decision_id)


@hookimpl
def creditguard_register_sources(register):
    register("fake", lambda name, **options: None)
"""


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An installed distribution ``creditguard-fakeplug`` 1.0 with entry point ``fakeplug``.

    Real entry-point plugins of the environment are blocked, so only this one loads.
    """
    import sys
    from importlib.metadata import entry_points

    site = tmp_path / "site"
    info = site / "creditguard_fakeplug-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: creditguard-fakeplug\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(f"[creditguard]\nfakeplug = {FAKE_MODULE}\n")
    (site / f"{FAKE_MODULE}.py").write_text(_FAKE_SOURCE)
    real = sorted({ep.name for ep in entry_points(group="creditguard")})
    monkeypatch.setenv("CREDITGUARD_DISABLE_PLUGINS", ",".join(real))
    monkeypatch.syspath_prepend(str(site))
    yield "fakeplug"
    sys.modules.pop(FAKE_MODULE, None)
