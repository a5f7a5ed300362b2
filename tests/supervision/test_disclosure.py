"""Disclosures: deadlines to the day across 2025–2026 holidays, masking, withdrawal, overdue, delivery."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from creditguard.calendar import CalendarNotCovered
from creditguard.config import config_from_dict
from creditguard.masking import unmasked_numbers
from creditguard.outbox import Backoff, Deliverer, SqliteOutbox
from creditguard.supervision import RuleBroken, SupervisionStore
from creditguard.supervision.disclosure import DisclosureDesk
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET

pytest.importorskip("creditguard_platform")
from creditguard_platform.channel import PlatformChannel

ORG = "91320100MA1W2K7D41"
PERSON = "110101199003074573"
D = date.fromisoformat


def desk(tmp_path: Path, today: str = "2026-03-02", **supervision: Any) -> DisclosureDesk:
    cfg = config_from_dict({"supervision": supervision} if supervision else {}).supervision
    return DisclosureDesk(
        SupervisionStore(tmp_path / "supervision.db"),
        SqliteOutbox(str(tmp_path / "outbox.db")),
        unit_code="320100-SJ",
        config=cfg,
        today=lambda: D(today),
    )


def prepare(d: DisclosureDesk, did: str = "320100-SJ-CF-2026-0017", **kw: Any) -> Any:
    args: dict[str, Any] = {
        "disclosure_id": did,
        "kind": "administrative_penalty",
        "subject": {"code": ORG, "name": "某某建设工程有限公司", "legal_representative": "张三"},
        "decision_no": "宁市监处〔2026〕17号",
        "decided_on": D("2026-03-02"),
        "authority": {"code": "320100-SJ", "name": "南京市市场监督管理局"},
        "content": "法定代表人张三（身份证号110101199003074573）未按规定公示年报，罚款一万元。",
        "publish_until": D("2027-03-01"),
    }
    args.update(kw)
    return d.prepare(**args)


@pytest.mark.parametrize(
    ("decided_on", "publish_by"),
    [
        ("2026-03-02", "2026-03-11"),  # spec §11.1's example
        ("2026-10-04", "2026-10-15"),  # FACTS §3: decided during National Day
        ("2026-09-28", "2026-10-13"),  # across National Day, 10-10 (Saturday) worked
        ("2026-02-10", "2026-02-26"),  # across Spring Festival, 02-14 (Saturday) worked
        ("2025-01-24", "2025-02-10"),  # Spring Festival 2025: 01-26 (Sun) and 02-08 (Sat) worked
        ("2025-09-26", "2025-10-13"),  # 09-28 and 10-11 worked, 10-01 … 10-08 off
        ("2025-12-25", "2026-01-06"),  # across the year end and 元旦 2026, 01-04 (Sunday) worked
    ],
)
def test_publication_deadline_is_right_to_the_day(
    tmp_path: Path, decided_on: str, publish_by: str
) -> None:
    d = prepare(desk(tmp_path), decided_on=D(decided_on))
    assert d.publish_by == publish_by
    assert d.body["request"]["publish_by"] == publish_by


def test_a_deadline_beyond_the_covered_years_is_refused_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    dk = desk(tmp_path)
    with pytest.raises(CalendarNotCovered):
        prepare(dk, decided_on=D("2026-12-24"), publish_until=D("2027-12-01"))
    assert dk.store.disclosures() == [] and dk.outbox.status(now=0).pending == 0


def test_per_channel_days(tmp_path: Path) -> None:
    dk = desk(tmp_path, disclosure_days={"administrative_penalty": 7, "gsxt": 20})
    assert prepare(dk, "A", channel="gsxt").publish_by == "2026-03-30"
    assert prepare(dk, "B").publish_by == "2026-03-11"


def test_masking_and_its_record(tmp_path: Path) -> None:
    d = prepare(
        desk(tmp_path),
        fields={"turnover": "1234万元", "violation": "未公示年报"},
        trade_secrets=["turnover"],
        person_names=["李四"],
        content="张三、李四（110101199003074573）……",
    )
    req = d.body["request"]
    assert req["subject"] == {
        "code": ORG,
        "name": "某某建设工程有限公司",
        "legal_representative": "张*",
    }
    assert (
        "110101********4573" in req["content"]
        and "张*" in req["content"]
        and "李*" in req["content"]
    )
    assert "张三" not in req["content"] and "李四" not in req["content"]
    assert unmasked_numbers(str(req)) == []
    assert req["fields"] == {"violation": "未公示年报"}
    assert set(req["masked_fields"]) == {"subject.legal_representative", "content"}
    assert {"field": "fields.turnover", "how": "removed: trade secret (商业秘密)"} in d.body[
        "mask_log"
    ]


def test_a_person_subject_is_masked(tmp_path: Path) -> None:
    d = prepare(
        desk(tmp_path), subject={"code": PERSON, "name": "王小明"}, content="王小明未履行……"
    )
    req = d.body["request"]
    assert req["subject"] == {"code": "110101********4573", "name": "王**"}
    assert req["content"] == "王**未履行……"


def test_non_public_records_are_never_disclosed(tmp_path: Path) -> None:
    dk = desk(tmp_path)
    with pytest.raises(RuleBroken) as info:
        prepare(dk, public=False)
    assert info.value.rule == "disclosure.public_only"
    assert dk.store.disclosures() == []


def test_withdrawal_within_3_working_days_and_overdue(tmp_path: Path) -> None:
    dk = desk(tmp_path, today="2026-03-02")
    prepare(dk)
    assert dk.overdue(as_of=D("2026-03-11")) == []
    late = dk.overdue(as_of=D("2026-03-12"))  # never delivered: past its deadline
    assert [(o.what, o.deadline.isoformat()) for o in late] == [("publication", "2026-03-11")]
    w = dk.withdraw("320100-SJ-CF-2026-0017", reason="penalty_revoked", decided_on=D("2026-04-03"))
    assert w.withdraw_by == "2026-04-09"  # Qingming 04-04 … 04-06 off
    with pytest.raises(RuleBroken, match="withdraw_once"):
        dk.withdraw("320100-SJ-CF-2026-0017", reason="other", decided_on=D("2026-04-03"))
    with pytest.raises(ValueError, match="reason"):
        prepare(dk, "C")
        dk.withdraw("C", reason="because", decided_on=D("2026-04-03"))


def test_publication_and_withdrawal_reach_the_platform_once(
    tmp_path: Path, creditguard_platform_server: Any
) -> None:
    dk = desk(tmp_path)
    prepare(dk)
    dk.withdraw(
        "320100-SJ-CF-2026-0017",
        reason="penalty_changed",
        decided_on=D("2026-03-05"),
        detail="复议变更",
    )
    server = creditguard_platform_server
    channel = PlatformChannel("platform", server.url, DEFAULT_APP_KEY, DEFAULT_SECRET)
    deliverer = Deliverer(
        dk.outbox, channel, timeout_s=2, lease_s=5, backoff=Backoff(base_s=0.01, max_s=0.05)
    )
    try:
        attempts = deliverer.deliver_due()
        assert [a.result for a in attempts] == ["delivered", "delivered"], attempts
        assert deliverer.deliver_due() == []
    finally:
        deliverer.close()
    [got] = server.platform.disclosures
    assert got["disclosure_id"] == "320100-SJ-CF-2026-0017" and got["publish_by"] == "2026-03-11"
    assert got["withdrawal"]["reason"] == "penalty_changed"
    assert unmasked_numbers(str(got)) == []
    assert dk.overdue(as_of=D("2026-12-01")) == []
