"""The Java 17 example, compiled and run against the service on loopback (when a JDK is present)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from server_helpers import (
    ORG_BLACK,
    ORG_CLEAN,
    SIGN_KEY_A,
    SIGN_SECRET_A,
    TOKEN_A,
    UNIT_A,
    running,
)

from creditguard.cases import case_id_for_application
from creditguard.server import Service, create_app
from creditguard.testing import ReferencePlatform

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("javac") is None, reason="no JDK (javac) on the PATH"),
]

SOURCE = Path(__file__).resolve().parents[2] / "examples" / "java_client" / "CreditGuardClient.java"


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("java")
    subprocess.run(
        ["javac", "-Xlint:all", "-Werror", "-d", str(out), str(SOURCE)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def run_java(
    classes: Path, url: str, code: str, env: dict[str, str], ref: str = "JAVA-DEMO-1"
) -> list[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
    args = [url, code, "procurement.bid", "320100", ref]
    done = subprocess.run(
        ["java", "-cp", str(classes), "CreditGuardClient", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return [*done.stdout.splitlines(), f"exit {done.returncode}"]


class _FeedbackBodies:
    """An ASGI wrapper keeping the JSON bodies posted to /v1/feedback (what the client sent)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/feedback":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        self.bodies.append(json.loads(b"".join(chunks)))
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def again() -> Any:
            return replay.pop() if replay else await receive()

        await self.app(scope, again, send)


def test_the_java_client_checks_feeds_back_and_reads_the_outbox(
    classes: Path, service: Service, platform: ReferencePlatform
) -> None:
    app = _FeedbackBodies(create_app(service))
    with running(app) as url:
        held = [
            "outcome deny",
            "verification verified",
            "step held: deny (verified)",
            "feedback 201",
            "outbox 200 unit 320100-CG",
            "exit 0",
        ]
        assert run_java(classes, url, ORG_BLACK, {"CG_TOKEN": TOKEN_A}) == held
        # the integrator retries the same application's step: the same case, fed back once
        assert run_java(classes, url, ORG_BLACK, {"CG_TOKEN": TOKEN_A}) == held
        signed = run_java(
            classes, url, ORG_CLEAN, {"CG_APP_KEY": SIGN_KEY_A, "CG_SECRET": SIGN_SECRET_A}
        )
        assert signed[:3] == ["outcome allow", "verification verified", "step may proceed"]
        assert service.units["320100-CG"].guard.deliver_now(timeout=10)
    # feedback names the decision by its token (any worker accepts it), not by decision_id
    assert [sorted(b) for b in app.bodies] == [["feedback_token"], ["feedback_token"]]
    case = case_id_for_application(UNIT_A, "JAVA-DEMO-1", "procurement.bid")
    assert [c for c, v in platform.cases.items() if v.get("subject_code") == ORG_BLACK] == [case]
    got = platform.feedback_for(ORG_BLACK)
    assert [(f["case_id"], f["action"], f["workflow_ref"]) for f in got] == [
        (case, "denied", "JAVA-DEMO-1")
    ]


def test_the_java_client_holds_the_step_when_the_platform_is_down(
    classes: Path, service: Service, platform: ReferencePlatform
) -> None:
    platform.down()
    with running(create_app(service)) as url:
        lines = run_java(classes, url, ORG_CLEAN, {"CG_TOKEN": TOKEN_A})
    assert lines[:3] == [
        "outcome review",
        "verification unverified",
        "step held: review (unverified)",
    ]


def test_the_java_client_stops_on_a_refusal(classes: Path, service: Service) -> None:
    with running(create_app(service)) as url:
        lines = run_java(classes, url, ORG_CLEAN, {"CG_TOKEN": "not-a-token-0123456789"})
    assert lines == ["error 401 UNAUTHENTICATED: unknown bearer token", "exit 1"]
