"""``creditguard report``: check figures from the journal, feedback from the outbox, supervision, HTML.

Real files: a guard journals its decisions and writes cases and feedback to
its outbox; the lifecycle writes to the supervision store; the report reads
them all. The HTML page is opened in headless Chromium and its screenshot is
kept in ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from creditguard.cli import main
from creditguard.clock import CST
from creditguard.config import load_config
from creditguard.guard import Guard
from creditguard.models import CreditRecord, SubjectRecords
from creditguard.supervision import Lifecycle
from creditguard.supervision.check_figures import UNATTRIBUTED

ORG = "91320100MA1W2K7D41"
CLEAN = "91110000710925462X"
AUTH = "320100-SJ"
RID = "JS-2026-000123"
DAY = datetime(2026, 3, 20, 10, 0, tzinfo=CST)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

RECORD = {
    "record_id": RID,
    "list_kind": "blacklist",
    "domain": "market_regulation",
    "authority": {"code": AUTH, "name": "南京市市场监督管理局"},
    "basis": "宁市监〔2026〕1号",
    "listed_on": "2026-01-05",
    "status": "listed",
    "region": "320100",
}
LIST = {
    "region": "320000",  # the province: its cities 320100 and 320500 follow it
    "version": "t1",
    "effective_from": "2026-01-01",
    "measures": [
        {
            "code": "T-01",
            "title": "限制参加政府采购活动",
            "category": "rights_limiting",
            # 企业信息公示暂行条例 Art 18 restricts the market regulator's serious-violations
            # list in procurement (FACTS §4): it carries this measure (rule 11f).
            "legal_basis": [
                {
                    "title": "《企业信息公示暂行条例》",
                    "article": "第十八条",
                    "level": "administrative_regulation",
                }
            ],
            "applies_to": {
                "list_kinds": ["blacklist"],
                "domains": ["market_regulation"],
                "steps": ["procurement.*"],
            },
            "effect": "restrict",
        }
    ],
}


class Platform:
    name = "platform"
    speaks_for_platform = True

    def lookup(
        self, codes: Sequence[str], *, include_related: bool = False
    ) -> Mapping[str, SubjectRecords]:
        rec = CreditRecord.model_validate(RECORD)
        return {
            c: SubjectRecords(code=c, records=(rec,) if c == ORG else (), found=True) for c in codes
        }


def _setup(tmp_path: Path) -> Path:
    (tmp_path / "list.json").write_text(json.dumps(LIST), encoding="utf-8")
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text(
        f'[guard]\nunit_code = "{AUTH}"\ndata_dir = "var"\n\n'
        '[measures]\npacks = false\nfiles = ["list.json"]\n\n'
        "[outbox]\ndeliver = false\n\n"
        "[supervision]\ncheck = true\n"
        'rules = { "320100" = [{ pack = "notice-893-2018", from = 2021-01-01 }] }\n',
        encoding="utf-8",
    )
    config = load_config(cfg, required=True)
    lc = Lifecycle.from_config(config)
    lc.register(ORG, CreditRecord.model_validate(RECORD))
    made = lc.make_commitment(
        RID,
        text="依法诚信经营",
        published_url="https://www.creditchina.gov.cn/c/1",
        at=datetime(2026, 3, 2, 10, tzinfo=CST),
    )
    lc.report_breach(
        RID,
        commitment_event_id=made.event_id,
        detail="违背承诺",
        at=datetime(2026, 3, 10, 10, tzinfo=CST),
    )
    lc.close()
    guard = Guard(config, sources=[Platform()], load_entrypoints=False)
    guard.engine.now = lambda: DAY
    try:
        bid = guard.check(ORG, step="procurement.bid", region="320100")
        guard.feedback(bid)  # restrict T-01: one feedback item, pending (no delivery here)
        guard.check(ORG, step="licensing.commitment", region="320100")
        guard.check(CLEAN, step="procurement.bid", region="320100")
        guard.check(CLEAN, step="procurement.bid", region="320500")  # another region
    finally:
        guard.close()
    return cfg


def _report(cfg: Path, *args: str) -> Any:
    r = CliRunner().invoke(
        main,
        [
            "report",
            "--from",
            "2026-03-01",
            "--to",
            date.today().isoformat(),
            *args,
            "--config",
            str(cfg),
        ],
    )
    return r


def test_report_json_has_check_feedback_and_supervision_figures(tmp_path: Path) -> None:
    cfg = _setup(tmp_path)
    r = _report(cfg, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    nj = doc["checks"]["320100"]
    assert nj["checks"] == 3 and nj["hits"] == 2 and nj["unverified"] == 0
    assert nj["outcomes"] == {"allow": 1, "review": 1, "restrict": 1, "deny": 0}
    # The breach bites at the commitment step; at the bid it is a condition, not a measure.
    assert nj["measures_by_effect"] == {"restrict": 1, "no_commitment": 1}
    assert nj["measures_by_step"] == {
        "procurement.bid": {"restrict": 1},
        "licensing.commitment": {"no_commitment": 1},
    }
    assert doc["checks"]["320500"]["checks"] == 1 and doc["checks"]["320500"]["hits"] == 0
    assert doc["feedback"] == {"320100": {"delivered": 0, "pending": 1, "dead": 0}}
    assert doc["regions"]["320100"]["commitments"] == {"made": 1, "breached": 1}
    assert doc["outbox"]["pending"] >= 3  # two events, a case and its feedback

    only = json.loads(_report(cfg, "--json", "--region", "320500").output)
    assert set(only["checks"]) == {"320500"} and only["feedback"] == {} and only["regions"] == {}

    # A period before the checks has no check figures.
    early = CliRunner().invoke(
        main,
        ["report", "--from", "2026-01-01", "--to", "2026-02-28", "--json", "--config", str(cfg)],
    )
    assert json.loads(early.output)["checks"] == {}


def test_report_counts_cases_awaiting_feedback_and_overdue_per_region(tmp_path: Path) -> None:
    cfg = _setup(tmp_path)  # the commitment step's case has no feedback; the bid's has
    doc = json.loads(_report(cfg, "--json").output)
    assert doc["cases"] == {"320100": {"awaiting_feedback": 1, "overdue": 0}}
    assert doc["feedback_due_s"] == 86400.0
    assert json.loads(_report(cfg, "--json", "--region", "320500").output)["cases"] == {}
    # due after a microsecond: the open case is overdue by the time the report reads it
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(
        text.replace("[outbox]\n", "[outbox]\nfeedback_due_s = 0.000001\n"), encoding="utf-8"
    )
    doc = json.loads(_report(cfg, "--json").output)
    assert doc["cases"] == {"320100": {"awaiting_feedback": 1, "overdue": 1}}
    shown = _report(cfg)
    assert "cases region 320100" in shown.output and "overdue: 1" in shown.output


def test_report_text_and_bad_input(tmp_path: Path) -> None:
    cfg = _setup(tmp_path)
    r = _report(cfg)
    assert r.exit_code == 0 and "checks region 320100" in r.output and "feedback region" in r.output
    bad = _report(cfg, "--region", "32")
    assert bad.exit_code != 0 and "6-digit" in bad.output
    both = _report(cfg, "--json", "--html", str(tmp_path / "r.html"))
    assert both.exit_code != 0 and not (tmp_path / "r.html").exists()


def test_unattributed_feedback_is_counted_not_dropped(tmp_path: Path) -> None:
    from creditguard.cases.facts import CaseFeedback, feedback_item
    from creditguard.outbox import SqliteOutbox
    from creditguard.supervision.check_figures import feedback_figures

    box = SqliteOutbox(str(tmp_path / "o.db"))
    try:
        fact = CaseFeedback(
            "P-1", AUTH, "T-01", "procurement.bid", "restricted", "", "2026-03-20T10:00:00+08:00"
        )
        box.enqueue(feedback_item(fact))
        got = feedback_figures(
            box, start=date(2000, 1, 1), end=date(2100, 1, 1), unit_code=AUTH, entries=[]
        )
        assert got == {UNATTRIBUTED: {"delivered": 0, "pending": 1, "dead": 0}}
    finally:
        box.close()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


def test_html_report_has_charts_and_opens_in_headless_chromium(tmp_path: Path) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("matplotlib is not installed: `make test` installs the report extra")
        pytest.skip("the report extra (matplotlib) is not installed")
    cfg = _setup(tmp_path)
    page = tmp_path / "report.html"
    r = _report(cfg, "--html", str(page))
    assert r.exit_code == 0, r.output
    text = page.read_text(encoding="utf-8")
    # Offline: every image is embedded, nothing is fetched, no script runs.
    assert "<script" not in text and not re.search(r"(src|href)=\"(https?:)?//", text)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) >= 4
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "<svg" not in text  # charts come from matplotlib, not hand-made SVG
    assert "320100" in text and "no_commitment" in text

    browser = _chromium()
    if browser is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (CI installs it)")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    profile = tmp_path / "chromium-profile"
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.exists() and shot.read_bytes().startswith(b"\x89PNG")
    # Keep the page beside its screenshot for whoever reads the artifacts.
    shutil.copyfile(page, ARTIFACTS / "report.html")
    assert shot.stat().st_size > 20_000  # a rendered page with charts, not a blank image


def test_feedback_for_a_platform_case_is_reported_under_its_region(tmp_path: Path) -> None:
    """A ``P-…`` case leaves the case book once fed back; its feedback still names its region."""
    from creditguard.cases import CaseRecorder, SqliteCaseBook
    from creditguard.channels import PushEvent
    from creditguard.models import AppliedMeasure, Decision, EffectiveRecord, LegalBasis
    from creditguard.outbox import SqliteOutbox

    cfg = tmp_path / "creditguard.toml"
    cfg.write_text(
        f'[guard]\nunit_code = "{AUTH}"\ndata_dir = "var"\n\n[measures]\npacks = false\n\n'
        '[outbox]\ndeliver = false\n\n[[sources]]\nname = "mirror"\ntype = "mirror"\n',
        encoding="utf-8",
    )
    (tmp_path / "var").mkdir()
    box = SqliteOutbox(tmp_path / "var" / "outbox.db")
    book = SqliteCaseBook(tmp_path / "var" / "platform-cases.db")
    recorder = CaseRecorder(box, AUTH, book=book, clock=DAY.timestamp)
    # The platform pushed a case about ORG for Suzhou (320500); this unit accepted T-01.
    push = PushEvent(
        "E-1",
        "case.initiated",
        subject_code=ORG,
        case_id="P-000042",
        measures=("T-01",),
        region="320500",
    )
    recorder.respond(push, implemented={"T-01"})
    record = CreditRecord.model_validate(RECORD)
    decision = Decision(
        decision_id="D1",
        subject_code=ORG,
        subject_kind="organization",
        step="procurement.bid",
        region="320100",
        as_of=DAY.date(),
        outcome="restrict",
        records=(EffectiveRecord(record=record, source="platform", subject_code=ORG),),
        measures=(
            AppliedMeasure(
                code="T-01",
                title="限制参加政府采购活动",
                effect="restrict",
                category="rights_limiting",
                legal_basis=(
                    LegalBasis(title="《中华人民共和国政府采购法》", article="第七十七条"),
                ),
                record_ids=(RID,),
            ),
        ),
        decided_at=DAY,
    )
    assert recorder.record_step(decision) == "P-000042"  # T-01 goes to the platform's case
    assert book.open_for(ORG) == []  # which then leaves the book
    box.close()
    r = _report(cfg, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["feedback"] == {"320500": {"delivered": 0, "pending": 1, "dead": 0}}
    only = json.loads(_report(cfg, "--json", "--region", "320500").output)
    assert only["feedback"] == {"320500": {"delivered": 0, "pending": 1, "dead": 0}}
