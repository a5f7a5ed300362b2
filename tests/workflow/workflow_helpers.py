"""Fictional subjects, a measure list and guard configs shared by the workflow tests.

Every code is made up and built with the check-character helpers; none
belongs to a real person or company.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import creditguard_platform.plugin as platform_plugin

from creditguard.case_desk import CaseDesk
from creditguard.codes import org_code_check_char, uscc_check_char
from creditguard.config import config_from_dict
from creditguard.guard import AsyncGuard, Guard
from creditguard.models import MeasureList
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET, ReferencePlatform

UNIT = "320100-CG"
REGION = "320100"


def uscc(body: str, division: str = REGION) -> str:
    """A valid USCC of an enterprise with an 8-character organisation body."""
    first17 = "91" + division + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


ORG_BLACK = uscc("MA1W2K7D")  # a blacklist record: deny for procurement, restrict for subsidies
ORG_FOCUS = uscc("MA1X3L8E")  # a focus-list record: strict review for licensing
ORG_CLEAN = uscc("MA24EFGH")  # no record at all

DENY, NOTE, RESTRICT, REVIEW = "WF-01", "WF-02", "WF-03", "WF-04"

# Bases that carry each measure (FACTS §4; docs/measure-lists.md rule 11f): procurement
# refusals on 财库〔2016〕125号 (the lists it names) and 政府采购法 Art 77; restrictions of
# 失信被执行人 on 中办发〔2016〕64号 part 二; the others are management measures.
_ART77 = {"title": "《中华人民共和国政府采购法》", "article": "第七十七条", "level": "law"}
_NOTICE125 = {
    "title": "《关于在政府采购活动中查询及使用信用记录有关问题的通知》（财库〔2016〕125号）"
}
_POLICY64 = {
    "title": "《关于加快推进失信被执行人信用监督、警示和惩戒机制建设的意见》（中办发〔2016〕64号）",
    "article": "二",
    "level": "policy_document",
}
_CARRIED: dict[str, tuple[list[dict[str, str]], list[str]]] = {
    "deny": ([_ART77, _NOTICE125], ["court_enforcement", "tax", "procurement"]),
    "restrict": ([_POLICY64], ["court_enforcement"]),
}


def _measure(code: str, effect: str, kinds: list[str], steps: list[str]) -> dict[str, Any]:
    basis, domains = _CARRIED.get(effect, ([_ART77], ["*"]))
    return {
        "code": code,
        "title": f"测试措施 {code}",
        "category": "rights_limiting" if effect in _CARRIED else "management",
        "legal_basis": basis,
        "applies_to": {"list_kinds": kinds, "domains": domains, "steps": steps},
        "effect": effect,
    }


def measure_list() -> MeasureList:
    """The 320100 list of the workflow tests (no parent list)."""
    return MeasureList.model_validate(
        {
            "region": REGION,
            "version": "2026.1",
            "issued_by": "测试信用办",
            "measures": [
                _measure(DENY, "deny", ["blacklist"], ["procurement.*"]),
                _measure(NOTE, "notify", ["blacklist"], ["procurement.*"]),
                _measure(RESTRICT, "restrict", ["blacklist"], ["subsidy.*"]),
                _measure(REVIEW, "strict_review", ["focus"], ["licensing.*"]),
            ],
        }
    )


def fill(platform: ReferencePlatform) -> dict[str, str]:
    """Records of the test subjects on the platform; record ids by subject."""
    black = platform.add_record(ORG_BLACK, list_kind="blacklist", domain="court_enforcement")
    focus = platform.add_record(ORG_FOCUS, list_kind="focus", domain="tax", status="rectifying")
    platform.add_subject(ORG_CLEAN)
    return {ORG_BLACK: black["record_id"], ORG_FOCUS: focus["record_id"]}


def config_dict(data_dir: str, url: str, *, unit_code: str = UNIT, **outbox: Any) -> dict[str, Any]:
    """A guard config: one platform source at ``url``, the outbox as given."""
    return {
        # licensing.apply is this integrator's own step (not in spec §8): declared here.
        "guard": {"data_dir": data_dir, "unit_code": unit_code, "steps": ["licensing.apply"]},
        "measures": {"packs": False},
        "journal": {"enabled": False},
        "sources": [
            {
                "name": "jiangsu",
                "type": "platform",
                "base_url": url,
                "app_key": DEFAULT_APP_KEY,
                "secret": DEFAULT_SECRET,
            }
        ],
        "outbox": outbox,
    }


def feedback_seen(platform: ReferencePlatform, code: str) -> list[tuple[str, str]]:
    """(measure, action) of the feedback the platform accepted about ``code``, sorted."""
    return sorted((f["measure_code"], f["action"]) for f in platform.feedback_for(code))


def accepted(platform: ReferencePlatform, path_part: str) -> list[tuple[str | None, str]]:
    """(idempotency key, canonical body) of every 2xx request whose path contains ``path_part``."""
    return [
        (r.idempotency_key, json.dumps(r.body, sort_keys=True))
        for r in platform.requests_log
        if path_part in r.path and r.status is not None and 200 <= r.status < 300
    ]


SyncFactory = Callable[..., Guard]
AsyncFactory = Callable[..., AsyncGuard]


def desk(guard: Guard | AsyncGuard) -> CaseDesk:
    """The guard's case desk (the outbox is on)."""
    assert guard.cases is not None
    return guard.cases


def build_guard(
    cls: type[Any], data_dir: Path, url: str, *, unit_code: str = UNIT, **outbox: Any
) -> Any:
    """A guard of class ``cls`` on the platform at ``url``, keeping its files in ``data_dir``."""
    raw = config_dict(str(data_dir), url, unit_code=unit_code, **outbox)
    return cls(
        config_from_dict(raw, base_dir=data_dir),
        measure_lists=[measure_list()],
        plugins=[platform_plugin],
        load_entrypoints=False,
    )


def deliver_backlog(
    guard: Guard | AsyncGuard, done: Callable[[], bool], timeout: float = 8.0
) -> None:
    """After an outage: make waiting items due and wake the worker until ``done()``.

    Once is not enough: an attempt in flight when the platform came back
    still fails and schedules its retry after this call.
    """
    cases = desk(guard)
    assert cases.worker is not None
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise AssertionError("the backlog was not delivered in time")
        cases.outbox.make_due(now=time.time())
        cases.worker.notify()
        time.sleep(0.05)
