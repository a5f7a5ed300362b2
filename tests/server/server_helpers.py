"""A two-unit decision service on a loopback reference platform, for the service tests.

Unit A (320100-CG, Nanjing) may check Nanjing procurement and licensing and see
non-public records; unit B (320500-SZ, Suzhou) may check Suzhou procurement only
and may not see them. Every code is made up with the check-character helpers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creditguard.codes import org_code_check_char, uscc_check_char
from creditguard.testing import DEFAULT_APP_KEY, DEFAULT_SECRET, ReferencePlatform

UNIT_A, UNIT_B = "320100-CG", "320500-SZ"
KEY_B, SECRET_B = "320500-SZ-KEY", "suzhou-platform-secret-0001"
TOKEN_A = "token-of-unit-a-0123456789"
TOKEN_B = "token-of-unit-b-0123456789"
TOKEN_MON = "token-of-monitor-0123456789"
SIGN_KEY_A, SIGN_SECRET_A = "nj-erp", "nj-erp-signing-secret-0001"
WRONG_TOKEN = "token-nobody-holds-0123456789"


def uscc(body: str, division: str = "320100") -> str:
    """A valid USCC with an 8-character organisation body."""
    first17 = "91" + division + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


ORG_BLACK = uscc("MA1W2K7D")  # public blacklist record: deny for procurement
ORG_HIDDEN = uscc("MA1X3L8E")  # non-public blacklist record only
ORG_CLEAN = uscc("MA24EFGH")  # no record


def fill(platform: ReferencePlatform) -> None:
    """The test subjects' records, and unit B's platform key."""
    platform.add_app_key(KEY_B, SECRET_B, see_non_public=True)
    platform.add_record(ORG_BLACK, list_kind="blacklist", domain="procurement")
    platform.add_record(ORG_HIDDEN, list_kind="blacklist", domain="procurement", public=False)
    platform.add_subject(ORG_CLEAN)


# 政府采购法 Art 77 bars the suppliers on procurement's own list (rule 11f: it carries
# deny for procurement-domain blacklist records at procurement steps, FACTS §4).
_LIST = """region = "{region}"
version = "2026.1"
issued_by = "测试信用办"
published_on = 2026-01-01
effective_from = 2026-01-01

[[measures]]
code = "{code}"
title = "限制参加政府采购活动"
category = "rights_limiting"
legal_basis = [{{ title = "《中华人民共和国政府采购法》", article = "第七十七条", level = "law" }}]
applies_to = {{ list_kinds = ["blacklist"], domains = ["procurement"], steps = ["procurement.*"] }}
effect = "deny"
"""


@dataclass(frozen=True)
class Layout:
    """Where the files of one test service are."""

    root: Path
    service_file: Path


def _guard_config(unit: str, data: str, url: str, key: str, secret: str) -> str:
    return f"""[guard]
unit_code = "{unit}"
data_dir = "{data}"
deadline_ms = 2000

[[sources]]
name = "platform"
type = "platform"
base_url = "{url}"
app_key = "{key}"
secret = "{secret}"

[measures]
files = ["measures/*.toml"]
packs = false

[journal]
enabled = false

[outbox]
deliver = {{deliver}}
"""


def write_layout(root: Path, url: str, *, deliver: bool = True, **server: Any) -> Layout:
    """The measure lists, both units' guard files and the service file under ``root``."""
    (root / "measures").mkdir(parents=True, exist_ok=True)
    (root / "measures" / "320100.toml").write_text(
        _LIST.format(region="320100", code="NJ-01"), encoding="utf-8"
    )
    (root / "measures" / "320500.toml").write_text(
        _LIST.format(region="320500", code="SZ-01"), encoding="utf-8"
    )
    flag = "true" if deliver else "false"
    (root / "unit-a.toml").write_text(
        _guard_config(UNIT_A, "var-a", url, DEFAULT_APP_KEY, DEFAULT_SECRET).replace(
            "{deliver}", flag
        ),
        encoding="utf-8",
    )
    (root / "unit-b.toml").write_text(
        _guard_config(UNIT_B, "var-b", url, KEY_B, SECRET_B).replace("{deliver}", flag),
        encoding="utf-8",
    )
    settings = "\n".join(f"{k} = {json.dumps(v)}" for k, v in server.items())
    text = f"""[server]
{settings}

[[units]]
code = "{UNIT_A}"
config = "unit-a.toml"
regions = ["320100"]
steps = ["procurement.*", "licensing.*"]
see_non_public = true

[[units]]
code = "{UNIT_B}"
config = "unit-b.toml"
regions = ["320500"]
steps = ["procurement.*"]

[[credentials]]
name = "nj-erp"
unit = "{UNIT_A}"
token = "{TOKEN_A}"
app_key = "{SIGN_KEY_A}"
secret = "{SIGN_SECRET_A}"

[[credentials]]
name = "sz-erp"
unit = "{UNIT_B}"
token = "{TOKEN_B}"

[[credentials]]
name = "prometheus"
role = "monitor"
token = "{TOKEN_MON}"
"""
    service_file = root / "service.toml"
    service_file.write_text(text, encoding="utf-8")
    return Layout(root, service_file)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a bearer token."""
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a loopback ephemeral port; yields the base URL."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    else:
        raise RuntimeError("uvicorn did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
