"""No data is not clean data: a mirror answers only for data it can vouch for (issue 8 item 1)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, measure_lists

from creditguard import Guard
from creditguard.clock import CST
from creditguard.config import config_from_dict
from creditguard.defaults import mirror_source
from creditguard.errors import ConfigError, SourceUnavailable
from creditguard.mirror import DEFAULT_MAX_AGE_S, SqliteMirror
from creditguard.mirror import store as mirror_store


class Clock:
    """A settable clock (seconds since the epoch)."""

    def __init__(self) -> None:
        self.now = 1_767_225_600.0  # 2026-01-01 08:00 CST

    def __call__(self) -> float:
        return self.now


def test_missing_file_is_unavailable_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "mirro.db"
    m = SqliteMirror(path, name="local")
    with pytest.raises(SourceUnavailable) as info:
        m.lookup([ORG_CLEAN])
    assert "does not exist" in str(info.value) and str(path) in str(info.value)
    assert info.value.source == "local"
    assert not path.exists() and not path.parent.exists()
    assert m.speaks_for_platform is False
    assert m.subject_of("JS-BL-1") is None
    assert not path.exists()


def test_source_factory_never_creates_the_file(tmp_path: Path) -> None:
    m = mirror_source(name="m", path="nowhere/mirror.db", base_dir=str(tmp_path))
    with pytest.raises(SourceUnavailable):
        m.lookup([ORG_CLEAN])
    assert not (tmp_path / "nowhere").exists()


def test_never_loaded_is_unavailable(tmp_path: Path) -> None:
    m = SqliteMirror(tmp_path / "m.db")
    m.count()  # the file exists, with its tables, but nothing was ever imported or synced
    with pytest.raises(SourceUnavailable, match="never been loaded"):
        m.lookup([ORG_CLEAN])


def test_upserts_alone_do_not_vouch(tmp_path: Path, mirror: SqliteMirror) -> None:
    # A push applied without a completed sync (mark_synced) proves nothing about the rest.
    m = SqliteMirror(tmp_path / "partial.db")
    rec = mirror.lookup([ORG_BLACK])[ORG_BLACK].records[0]
    m.upsert(None, rec, subject_code=ORG_BLACK)
    with pytest.raises(SourceUnavailable, match="never been loaded"):
        m.lookup([ORG_BLACK])


def test_data_as_of_is_the_last_load_in_cst(tmp_path: Path, records_file: Path) -> None:
    clock = Clock()
    m = SqliteMirror(tmp_path / "m.db", clock=clock)
    m.import_jsonl(records_file)
    loaded = datetime.fromtimestamp(clock.now, CST)
    clock.now += 3600
    got = m.lookup([ORG_BLACK, ORG_CLEAN])
    for answer in got.values():  # found or not, every answer says how old the data is
        assert answer.data_as_of == loaded
        assert answer.data_as_of is not None and answer.data_as_of.utcoffset() == CST.utcoffset(
            None
        )


def test_too_old_is_unavailable_and_a_sync_renews(tmp_path: Path, records_file: Path) -> None:
    clock = Clock()
    m = SqliteMirror(tmp_path / "m.db", clock=clock, max_age_s=600)
    m.import_jsonl(records_file)
    clock.now += 600
    assert m.lookup([ORG_BLACK])[ORG_BLACK].found
    clock.now += 1
    with pytest.raises(SourceUnavailable) as info:
        m.lookup([ORG_BLACK])
    assert "last loaded at 2026-01-01 08:00 CST" in str(info.value)
    assert "max_age_s" in str(info.value)
    m.mark_synced()  # an empty poll counts
    assert m.lookup([ORG_BLACK])[ORG_BLACK].data_as_of == datetime.fromtimestamp(clock.now, CST)


def test_load_time_in_the_future_is_not_trusted(tmp_path: Path, records_file: Path) -> None:
    clock = Clock()
    m = SqliteMirror(tmp_path / "m.db", clock=clock)
    m.import_jsonl(records_file)
    clock.now -= 3600  # the file came from a machine whose clock ran an hour ahead
    with pytest.raises(SourceUnavailable, match="future"):
        m.lookup([ORG_BLACK])


def test_speaks_for_platform_only_once_synced(tmp_path: Path, records_file: Path) -> None:
    m = SqliteMirror(tmp_path / "m.db")
    m.import_jsonl(records_file)
    assert m.speaks_for_platform is False
    m.lookup([ORG_BLACK])
    assert m.speaks_for_platform is False
    m.mark_synced()
    assert m.speaks_for_platform is True
    assert SqliteMirror(m.path).speaks_for_platform is True  # kept in the file
    st = m.stats()
    assert st.synced_at is not None and st.imported_at is not None


def test_deleted_file_is_noticed_by_an_open_mirror(
    tmp_path: Path, records_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_store, "_RECHECK_S", 0.0)
    m = SqliteMirror(tmp_path / "m.db")
    m.import_jsonl(records_file)
    assert m.lookup([ORG_BLACK])[ORG_BLACK].found
    for suffix in ("", "-wal", "-shm"):
        Path(f"{m.path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(SourceUnavailable, match="does not exist"):
        m.lookup([ORG_BLACK])
    assert not m.path.exists()


def test_replaced_file_is_reopened(
    tmp_path: Path, records_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_store, "_RECHECK_S", 0.0)
    m = SqliteMirror(tmp_path / "m.db")
    m.import_jsonl(records_file)
    assert m.lookup([ORG_BLACK])[ORG_BLACK].found
    other = SqliteMirror(tmp_path / "other.db")
    other.import_lines([records_file.read_text(encoding="utf-8").splitlines()[1]])
    other.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{m.path}{suffix}").unlink(missing_ok=True)
    (tmp_path / "other.db").rename(m.path)
    assert m.lookup([ORG_BLACK])[ORG_BLACK].found is False


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"max_age_s": "800"}, "max_age_s must be a positive number"),
        ({"max_age_s": True}, "max_age_s must be a positive number"),
        ({"max_age_s": 0}, "max_age_s must be a positive number"),
        ({"max_age_s": float("inf")}, "max_age_s must be a positive number"),
        ({"max_age": 60}, 'unknown option(s) max_age (did you mean "max_age_s"?)'),
        ({"path": ""}, "path must be a file name"),
    ],
)
def test_mirror_options_checked(tmp_path: Path, options: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        mirror_source(name="m", base_dir=str(tmp_path), **options)
    assert needle in str(info.value)


def test_default_max_age_is_a_day() -> None:
    assert DEFAULT_MAX_AGE_S == 86400.0
    assert SqliteMirror("x.db").max_age_s == 86400.0


# --- end to end: the guard's decision -------------------------------------------------------


def _guard(tmp_path: Path, source: dict[str, object], policy: str = "hold") -> Guard:
    cfg = config_from_dict(
        {
            "guard": {"data_dir": str(tmp_path / "var")},
            "sources": [source],
            "measures": {"packs": False},
            "failure": {"default": policy},
            "journal": {"enabled": False},
        },
        base_dir=tmp_path,
    )
    return Guard(cfg, measure_lists=measure_lists(), load_entrypoints=False)


@pytest.mark.parametrize("policy", ["hold", "allow"])
def test_typo_in_the_mirror_path_is_never_a_verified_allow(tmp_path: Path, policy: str) -> None:
    g = _guard(tmp_path, {"name": "mirror", "type": "mirror", "path": "mirorr.db"}, policy)
    try:
        d = g.check(ORG_CLEAN, step="procurement.bid", region="320100")
    finally:
        g.close()
    assert d.verified is False
    assert d.outcome == ("review" if policy == "hold" else "allow")
    assert d.degraded_reason is not None and "does not exist" in d.degraded_reason
    assert not (tmp_path / "mirorr.db").exists()


def test_stale_mirror_makes_the_check_unverified(tmp_path: Path, records_file: Path) -> None:
    path = tmp_path / "m.db"
    SqliteMirror(path, clock=lambda: time.time() - 7200).import_jsonl(records_file)
    g = _guard(tmp_path, {"name": "mirror", "type": "mirror", "path": "m.db", "max_age_s": 3600})
    try:
        d = g.check(ORG_CLEAN, step="procurement.bid", region="320100")
    finally:
        g.close()
    assert d.verified is False and d.outcome == "review"
    assert d.degraded_reason is not None and "max_age_s" in d.degraded_reason


def test_fresh_mirror_decision_names_when_the_data_was_loaded(
    tmp_path: Path, records_file: Path
) -> None:
    path = tmp_path / "m.db"
    SqliteMirror(path).import_jsonl(records_file)
    g = _guard(tmp_path, {"name": "mirror", "type": "mirror", "path": "m.db"})
    try:
        d = g.check(ORG_CLEAN, step="procurement.bid", region="320100")
    finally:
        g.close()
    assert d.verified is True and d.outcome == "allow"
    [prov] = d.provenance
    stats = SqliteMirror(path).stats()
    assert prov.data_as_of == stats.loaded_at


def test_a_file_that_is_not_a_mirror_is_unavailable_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "mirror.db"
    path.write_bytes(b"not a database, just some bytes" * 100)
    before = path.read_bytes()
    m = SqliteMirror(path)
    with pytest.raises(SourceUnavailable, match="cannot read mirror"):
        m.lookup([ORG_CLEAN])
    assert m.speaks_for_platform is False
    assert path.read_bytes() == before
