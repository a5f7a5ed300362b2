"""A clean subject decided by the mirror's membership filter, without a lookup.

The guard asks a local source that offers ``absent(code)``
(:class:`~creditguard.sources.MembershipProbe`) before looking a subject up.
These tests show the decision is the one the lookup gives, that the lookup
is skipped only when the probe is certain, and that every doubt (a held
code, a write by another connection, old data, a failing probe, a cached
answer that knows the subject, a plugin adding measures) takes the usual
path, so the probe never makes a check more lenient.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from _coredata import ORG_BLACK, ORG_CLEAN, PERSON_CLEAN, REGION, REP

from creditguard import hookimpl
from creditguard.mirror import SqliteMirror
from creditguard.mirror._filter_keeper import wal_index
from creditguard.models import SubjectRecords
from creditguard.sources import MembershipProbe

GuardFactory = Any
STEP = "procurement.bid"


class Counting:
    """A local source around a mirror that counts lookups and may offer or drop the probe."""

    def __init__(self, mirror: SqliteMirror, *, probe: bool = True) -> None:
        self.name = "mirror"
        self.mirror = mirror
        self.lookups: list[tuple[str, ...]] = []
        self.probes = 0
        if probe:
            self.absent = self._absent

    def lookup(
        self, codes: Sequence[str], *, include_related: bool = False
    ) -> Mapping[str, SubjectRecords]:
        self.lookups.append(tuple(codes))
        return self.mirror.lookup(codes, include_related=include_related)

    def _absent(self, code: str) -> Any:
        self.probes += 1
        return self.mirror.absent(code)


def _same(a: Any, b: Any) -> None:
    """Equal decisions but for id, time and fetch time."""
    da = a.model_dump(exclude={"decision_id", "decided_at", "provenance"})
    db = b.model_dump(exclude={"decision_id", "decided_at", "provenance"})
    assert da == db
    pa = [p.model_dump(exclude={"fetched_at"}) for p in a.provenance]
    pb = [p.model_dump(exclude={"fetched_at"}) for p in b.provenance]
    assert pa == pb


def test_the_mirror_is_a_membership_probe(mirror: SqliteMirror) -> None:
    assert isinstance(mirror, MembershipProbe)
    assert mirror.absent(ORG_CLEAN) is not None
    assert mirror.absent(ORG_BLACK) is None  # held: the probe never answers for it
    assert mirror.absent(REP) is None  # a legal representative is in the filter too


def test_a_clean_subject_is_decided_without_a_lookup_and_as_the_lookup_decides(
    make_guard: GuardFactory, mirror: SqliteMirror
) -> None:
    probed, plain = Counting(mirror), Counting(mirror, probe=False)
    g1 = make_guard({"guard": {"cache_ttl_s": 0}}, sources=[probed])
    g2 = make_guard({"guard": {"cache_ttl_s": 0}}, sources=[plain])
    for code in (ORG_CLEAN, PERSON_CLEAN):
        fast = g1.check(code, step=STEP, region=REGION)
        slow = g2.check(code, step=STEP, region=REGION)
        _same(fast, slow)
        assert fast.outcome == "allow" and fast.verified
        assert fast.provenance[0].found is False and fast.provenance[0].data_as_of is not None
    assert probed.lookups == []
    assert len(plain.lookups) == 2


def test_a_held_subject_is_looked_up(make_guard: GuardFactory, mirror: SqliteMirror) -> None:
    probed = Counting(mirror)
    g = make_guard(sources=[probed])
    d = g.check(ORG_BLACK, step=STEP, region=REGION)
    assert d.outcome != "allow" and d.measures
    assert probed.lookups == [(ORG_BLACK,)]
    # A legal representative of a listed organisation is in the filter: looked up too.
    assert g.check(REP, step=STEP, region=REGION).verified
    assert probed.lookups[-1] == (REP,)


def test_a_record_written_by_another_connection_is_seen_at_once(
    make_guard: GuardFactory, mirror: SqliteMirror, tmp_path: Path
) -> None:
    g = make_guard({"guard": {"cache_ttl_s": 0}})
    assert g.check(ORG_CLEAN, step=STEP, region=REGION).outcome == "allow"
    other = SqliteMirror(mirror.path)  # another process's writer, on its own connection
    line = {
        "subject": {"code": ORG_CLEAN, "kind": "organization", "name": "新列入企业"},
        "record": {
            "record_id": "PROBE-1",
            "list_kind": "blacklist",
            "domain": "court_enforcement",
            "list_name": "失信被执行人名单",
            "authority": {"code": "320100-FY", "name": "南京市中级人民法院"},
            "basis": "（2026）苏01执1号",
            "listed_on": "2026-01-05",
            "status": "listed",
            "region": REGION,
        },
    }
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    other.import_jsonl(extra)  # a new epoch: every reader's filter is built again
    other.close()
    assert mirror.absent(ORG_CLEAN) is None
    d = g.check(ORG_CLEAN, step=STEP, region=REGION)
    assert [r.record.record_id for r in d.records] == ["PROBE-1"]
    assert d.outcome != "allow"


def test_a_row_written_by_the_sqlite3_shell_is_seen_at_once(
    make_guard: GuardFactory, mirror: SqliteMirror
) -> None:
    g = make_guard({"guard": {"cache_ttl_s": 0}})
    assert g.check(ORG_CLEAN, step=STEP, region=REGION).outcome == "allow"
    assert g.check(ORG_CLEAN, step=STEP, region=REGION).outcome == "allow"
    # From the second lookup on, commits are noticed by the WAL-index header in shared memory.
    assert mirror._thread().shm is not None
    shell = sqlite3.connect(mirror.path)  # not creditguard: only the triggers log the code
    with shell:
        shell.execute(
            "INSERT INTO records(record_id, subject_code, data) "
            "SELECT 'SHELL-1', ?, replace(data, record_id, 'SHELL-1') FROM records "
            "WHERE subject_code = ? LIMIT 1",
            (ORG_CLEAN, ORG_BLACK),
        )
    shell.close()
    assert mirror.absent(ORG_CLEAN) is None
    d = g.check(ORG_CLEAN, step=STEP, region=REGION)
    assert [r.record.record_id for r in d.records] == ["SHELL-1"]
    assert d.outcome != "allow"


def test_old_data_is_never_clean(
    make_guard: GuardFactory, tmp_path: Path, records_file: Path
) -> None:
    m = SqliteMirror(tmp_path / "old.db", max_age_s=60)
    m.import_jsonl(records_file)
    with m.transaction() as conn:  # loaded two minutes ago
        conn.execute("UPDATE mirror_state SET loaded_at = ?", (time.time() - 120,))
    probed = Counting(m)
    g = make_guard({"failure": {"default": "hold"}}, sources=[probed])
    assert m.absent(ORG_CLEAN) is None
    d = g.check(ORG_CLEAN, step=STEP, region=REGION)
    assert not d.verified and d.outcome != "allow"
    assert probed.lookups == [(ORG_CLEAN,)]  # the lookup said why
    m.close()


def test_a_failing_probe_takes_the_lookup(make_guard: GuardFactory, mirror: SqliteMirror) -> None:
    probed = Counting(mirror)

    def broken(code: str) -> Any:
        raise RuntimeError("probe bug")

    probed.absent = broken
    g = make_guard(sources=[probed])
    d = g.check(ORG_CLEAN, step=STEP, region=REGION)
    assert d.outcome == "allow" and d.verified
    assert probed.lookups == [(ORG_CLEAN,)]


def test_a_missing_file_is_never_clean(make_guard: GuardFactory, tmp_path: Path) -> None:
    m = SqliteMirror(tmp_path / "gone.db")
    g = make_guard({"failure": {"default": "hold"}}, sources=[m])
    assert m.absent(ORG_CLEAN) is None
    d = g.check(ORG_CLEAN, step=STEP, region=REGION)
    assert not d.verified and d.outcome == "review"
    assert not os.path.exists(tmp_path / "gone.db")


class _ExtraMeasure:
    @hookimpl
    def creditguard_extra_measures(self, subject: Any, step: str, **_: Any) -> list[Any]:
        from creditguard.models import AppliedMeasure, LegalBasis

        return [
            AppliedMeasure(
                code="X-1",
                title="插件措施",
                effect="strict_review",
                category="rights_limiting",
                legal_basis=(LegalBasis(title="《江苏省社会信用条例》", article="第二十九条"),),
            )
        ]


def test_a_plugin_adding_measures_still_sees_clean_subjects(
    make_guard: GuardFactory, mirror: SqliteMirror
) -> None:
    probed = Counting(mirror)
    g = make_guard(sources=[probed], plugins=[_ExtraMeasure()])
    d = g.check(ORG_CLEAN, step=STEP, region=REGION)
    assert [m.code for m in d.measures] == ["X-1"]
    assert probed.lookups == [(ORG_CLEAN,)]


def test_sync_and_async_decide_alike(
    make_guard: GuardFactory, make_async_guard: GuardFactory, mirror: SqliteMirror
) -> None:
    sync_src, async_src = Counting(mirror), Counting(mirror)
    g = make_guard(sources=[sync_src])
    ag = make_async_guard(sources=[async_src])
    for code in (ORG_CLEAN, PERSON_CLEAN, ORG_BLACK):
        _same(
            g.check(code, step=STEP, region=REGION),
            asyncio.run(ag.check(code, step=STEP, region=REGION)),
        )
    assert sync_src.lookups == async_src.lookups == [(ORG_BLACK,)]


def test_the_wal_index_is_used_only_when_it_is_what_sqlite_documents(tmp_path: Path) -> None:
    assert wal_index(tmp_path / "none.db") is None  # no -shm file: not in WAL mode
    (tmp_path / "odd.db-shm").write_bytes(bytes(200))  # another header version
    assert wal_index(tmp_path / "odd.db") is None


def test_sqlite_is_asked_again_once_a_second(mirror: SqliteMirror) -> None:
    assert mirror.absent(ORG_CLEAN) is not None
    assert mirror.absent(ORG_CLEAN) is not None
    local = mirror._thread()
    first = local.shm
    assert first is not None
    local.shm_until = 0.0  # the second is up: data_version is read and the header mapped anew
    assert mirror.absent(ORG_CLEAN) is not None
    assert local.shm is not None and local.shm is not first
    assert mirror.absent(ORG_BLACK) is None
