"""A platform list keeps the standing it says it has (official, compilation, example).

Spec §5.1 defines no ``standing`` field; a platform that republishes a
compilation says so with it, and dropping the word made every platform list
read as official. Absent, a platform list is official; an unreadable value
keeps the list from being activated rather than reading as official.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_platform_fetch import ORG, mirror_guard, nanjing, sync, write_config

from creditguard.errors import MeasureListError
from creditguard.measures.platform_lists import PlatformListStore, accept_platform_list
from creditguard.testing import ReferencePlatform, serve

COMPILATION_NOTE = "并非有关机关发布的正式清单"


@pytest.mark.integration
def test_a_compilation_from_the_platform_reads_as_a_compilation(tmp_path: Path) -> None:
    platform = ReferencePlatform()
    platform.set_measure_list(nanjing("2026.1", standing="compilation"))
    platform.add_record(ORG, domain="procurement", push=True)
    with serve(platform) as server:
        cfg = write_config(tmp_path, server.url)
        code, out = sync(cfg)
        assert code == 0, out
    kept = PlatformListStore(tmp_path / "var" / "measure-lists").load("320100")
    assert kept is not None and kept.measure_list.standing == "compilation"
    guard = mirror_guard(cfg)
    decision = guard.check(ORG, step="procurement.bid", region="320100")
    assert decision.outcome == "deny" and decision.list_standing == "compilation"
    assert COMPILATION_NOTE in decision.explanation


def test_a_platform_list_without_standing_is_official() -> None:
    accepted = accept_platform_list(nanjing("2026.1"), name="platform 320100")
    assert accepted.measure_list.standing == "official"


@pytest.mark.parametrize("standing", ["example", "official"])
def test_each_known_standing_is_kept(standing: str) -> None:
    accepted = accept_platform_list(nanjing("2026.1", standing=standing), name="p")
    assert accepted.measure_list.standing == standing


@pytest.mark.parametrize("standing", ["offical", 1, None, ""])
def test_an_unreadable_standing_is_never_read_as_official(standing: object) -> None:
    with pytest.raises(MeasureListError, match="standing"):
        accept_platform_list(nanjing("2026.1", standing=standing), name="platform 320100")
