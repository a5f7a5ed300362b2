"""The officer console with Flask's test client, against the loopback reference platform."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from creditguard.testing.auth import spec_signature

CLEAN = "91110000710925462X"
BIDDER = "91320100MA1W2K7D41"  # on the procurement serious-dishonesty list
PERSON = "320102198005141232"  # a person on a court-enforcement blacklist
PERSON_MASKED = "320102********1232"
REGION = "320100"


def csrf(client: Any) -> str:
    html = client.get("/").get_data(as_text=True)
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def submit(
    client: Any, code: str, *, step: str = "procurement.bid", ref: str = "NJCG-2026-0315-007"
):
    return client.post(
        "/check",
        data={"csrf": csrf(client), "ref": ref, "code": code, "step": step, "region": REGION},
    )


def check(client: Any, code: str, **kw: Any) -> tuple[str, str]:
    """Submit the form, follow the redirect; (decision page URL, its HTML)."""
    answer = submit(client, code, **kw)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    url = answer.headers["Location"]
    page = client.get(url)
    assert page.status_code == 200
    return url, page.get_data(as_text=True)


def act(client: Any, url: str, action: str, *, officer: str = "王经办", why: str = "") -> Any:
    return client.post(
        f"{url}/actions",
        data={"csrf": csrf(client), "action": action, "officer": officer, "justification": why},
    )


def fed_back(platform: Any, guard: Any, code: str) -> list[tuple[str, str, str]]:
    assert guard.deliver_now()
    return sorted(
        (f["measure_code"], f["action"], f["detail"]) for f in platform.feedback_for(code)
    )


def test_form_is_in_chinese(console: Any) -> None:
    html = console.test_client().get("/").get_data(as_text=True)
    assert "受理申请并核查信用" in html and "申请人统一社会信用代码或公民身份号码" in html
    assert 'lang="zh-CN"' in html


def test_clean_applicant_decision_page(
    console: Any, creditguard_platform: Any, creditguard_guard: Any
) -> None:
    client = console.test_client()
    url, html = check(client, CLEAN)
    assert "予以通过" in html and "已核实" in html
    assert "数据截至" in html and "前）" in html
    assert "未查询到有效的失信记录" in html and "未适用惩戒措施" in html
    answer = act(client, url, "proceed")
    assert answer.status_code == 303
    html = client.get(url).get_data(as_text=True)
    assert "王经办" in html and "按核查结果办理" in html and "该核查结果已办理" in html
    assert fed_back(creditguard_platform, creditguard_guard, CLEAN) == []


def test_denied_bidder_shows_records_measures_and_legal_basis(
    console: Any, creditguard_platform: Any
) -> None:
    creditguard_platform.add_record(BIDDER, list_kind="blacklist", domain="procurement")
    client = console.test_client()
    url, html = check(client, BIDDER)
    assert "不予通过" in html
    measures = html.split('id="measures"', 1)[1].split("</table>", 1)[0]
    assert "S-01" in measures and "禁止" in measures
    assert "《中华人民共和国政府采购法》第七十七条（法律）" in measures
    assert 'id="records"' in html and "严重失信主体名单" in html
    assert "示例清单，并非正式清单" in html  # the example pack says what it is
    # proceeding on a deny is refused: only an override with reasons may
    answer = act(client, url, "proceed")
    assert answer.status_code == 409
    assert "推翻核查结果" in answer.get_data(as_text=True)


def test_override_needs_a_written_justification_and_is_fed_back(
    console: Any, creditguard_platform: Any, creditguard_guard: Any, tmp_path: Path
) -> None:
    creditguard_platform.add_record(BIDDER, list_kind="blacklist", domain="procurement")
    client = console.test_client()
    url, _ = check(client, BIDDER)
    short = act(client, url, "override", why="有误")
    assert short.status_code == 409 and "须书面说明理由" in short.get_data(as_text=True)
    nobody = act(client, url, "override", officer="", why="认定部门已出具撤销决定书，记录有误")
    assert nobody.status_code == 400
    assert fed_back(creditguard_platform, creditguard_guard, BIDDER) == []  # nothing written

    why = "认定部门已出具撤销决定书（苏财购〔2026〕12号），记录有误"
    assert act(client, url, "override", why=why).status_code == 303
    detail = f"经办人推翻核查结果：{why}（经办人：王经办）"
    entries = fed_back(creditguard_platform, creditguard_guard, BIDDER)
    assert entries and all(e[1:] == ("not_applied", detail) for e in entries)
    assert {e[0] for e in entries} >= {"S-01"}
    assert {f["workflow_ref"] for f in creditguard_platform.feedback_for(BIDDER)} == {
        "NJCG-2026-0315-007"
    }
    # audited: who, what, why; shown on the page; a second action is refused
    db = sqlite3.connect(tmp_path / "console" / "officer-console.db")
    rows = db.execute("SELECT action, officer, justification, subject FROM actions").fetchall()
    assert rows == [("override", "王经办", why, BIDDER)]
    html = client.get(url).get_data(as_text=True)
    assert "推翻核查结果" in html and "苏财购〔2026〕12号" in html
    assert act(client, url, "refuse").status_code == 409


def test_refusal_is_fed_back_denied(
    console: Any, creditguard_platform: Any, creditguard_guard: Any
) -> None:
    creditguard_platform.add_record(BIDDER, list_kind="blacklist", domain="procurement")
    client = console.test_client()
    url, _ = check(client, BIDDER)
    assert act(client, url, "refuse", why="投标人被列入政府采购严重违法失信名单").status_code == 303
    entries = fed_back(creditguard_platform, creditguard_guard, BIDDER)
    assert entries and {e[1] for e in entries} == {"denied"}


def test_person_number_is_masked_everywhere(console: Any, creditguard_platform: Any) -> None:
    creditguard_platform.add_record(PERSON, list_kind="blacklist", domain="court_enforcement")
    client = console.test_client()
    answer = submit(client, PERSON, step="licensing.approve")
    url = answer.headers["Location"]
    pages = [client.get(url).get_data(as_text=True)]
    pages.append(act(client, url, "refuse", why=f"申请人{PERSON}未履行义务").get_data(as_text=True))
    pages.append(client.get(url).get_data(as_text=True))
    assert PERSON_MASKED in pages[0]
    for html in pages:
        assert PERSON not in html
    bad = submit(client, PERSON[:-1] + "0")  # a wrong check digit
    assert bad.status_code == 400
    assert PERSON[:-1] not in bad.get_data(as_text=True)


def test_store_is_owner_only(console: Any, tmp_path: Path) -> None:
    mode = (tmp_path / "console" / "officer-console.db").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_bad_input_is_refused_without_a_decision(console: Any) -> None:
    client = console.test_client()
    answer = submit(client, "91320100MA1W2K7D4")
    assert answer.status_code == 400 and "18" in answer.get_data(as_text=True)
    answer = submit(client, CLEAN, step="procurment.bid")
    assert answer.status_code == 400 and "procurement.bid" in answer.get_data(as_text=True)
    assert client.post("/check", data={"ref": "x", "code": CLEAN}).status_code == 400  # no CSRF


def test_platform_down_shows_unverified_and_nothing_can_proceed(
    console: Any, creditguard_platform: Any, creditguard_guard: Any
) -> None:
    creditguard_platform.down()
    client = console.test_client()
    url, html = check(client, CLEAN)
    assert "信用信息未能核验" in html and "未核实" in html and "未能取得数据" in html
    assert 'value="proceed"' not in html and 'value="override"' not in html
    for action in ("proceed", "override"):
        answer = act(client, url, action, why="平台故障，申请人急需办理，先行办理")
        assert answer.status_code == 409
        assert "未能核验" in answer.get_data(as_text=True)
    creditguard_platform.up()
    answer = act(client, url, "recheck")  # a fresh check, a new decision page
    assert answer.status_code == 303 and answer.headers["Location"] != url
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "已核实" in html and "予以通过" in html


def _push(client: Any, event: dict[str, Any], *, secret: str = "test-secret") -> Any:
    body = json.dumps(event).encode()
    ts, nonce = str(int(time.time() * 1000)), f"N{time.time_ns():023d}"[:24]
    headers = {
        "Content-Type": "application/json",
        "X-CG-AppKey": "test-key",
        "X-CG-Timestamp": ts,
        "X-CG-Nonce": nonce,
        "X-CG-Signature": spec_signature(secret, "POST", "/webhook", "", ts, nonce, body),
    }
    return client.post("/webhook", data=body, headers=headers)


def test_push_webhook_verifies_and_makes_the_next_check_fresh(
    console: Any, creditguard_platform: Any
) -> None:
    record = creditguard_platform.add_record(BIDDER, list_kind="blacklist", domain="procurement")
    client = console.test_client()
    _, html = check(client, BIDDER)
    assert "不予通过" in html
    creditguard_platform.remove_record(record["record_id"])
    _, html = check(client, BIDDER)
    assert "不予通过" in html  # the guard's cache still holds the listing
    event = {
        "event_id": "E-000981",
        "type": "record.removed",
        "subject_code": BIDDER,
        "record_id": record["record_id"],
    }
    forged = _push(client, event, secret="wrong-secret")
    assert forged.status_code == 401
    answer = _push(client, event)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    _, html = check(client, BIDDER)
    assert "予以通过" in html and "不予通过" not in html
