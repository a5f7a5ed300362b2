"""The Java 17 example, compiled and run against the service on loopback (when a JDK is present)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from server_helpers import (
    ORG_BLACK,
    ORG_CLEAN,
    SIGN_KEY_A,
    SIGN_SECRET_A,
    TOKEN_A,
    running,
)

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


def run_java(classes: Path, url: str, code: str, env: dict[str, str]) -> list[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
    done = subprocess.run(
        ["java", "-cp", str(classes), "CreditGuardClient", url, code, "procurement.bid", "320100"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return [*done.stdout.splitlines(), f"exit {done.returncode}"]


def test_the_java_client_checks_feeds_back_and_reads_the_outbox(
    classes: Path, service: Service, platform: ReferencePlatform
) -> None:
    with running(create_app(service)) as url:
        lines = run_java(classes, url, ORG_BLACK, {"CG_TOKEN": TOKEN_A})
        assert lines == [
            "outcome deny",
            "verification verified",
            "step held: deny (verified)",
            "feedback 201",
            "outbox 200 unit 320100-CG",
            "exit 0",
        ]
        signed = run_java(
            classes, url, ORG_CLEAN, {"CG_APP_KEY": SIGN_KEY_A, "CG_SECRET": SIGN_SECRET_A}
        )
        assert signed[:3] == ["outcome allow", "verification verified", "step may proceed"]
        assert service.units["320100-CG"].guard.deliver_now(timeout=10)
    assert [f["action"] for f in platform.feedback_for(ORG_BLACK)] == ["denied"]


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
