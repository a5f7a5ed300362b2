"""The committed OpenAPI document is the app's, and the API keeps it under fuzzing.

schemathesis generates requests from ``docs/openapi.json`` (valid and invalid
bodies) and checks every answer: never a 5xx, status codes and bodies as
documented. The run is kept short (few examples per operation); widen it with
``CG_FUZZ_EXAMPLES=500``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from server_helpers import TOKEN_A, bearer

from creditguard.server import Service, create_app
from creditguard.server.app import openapi_document

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
EXAMPLES = int(os.environ.get("CG_FUZZ_EXAMPLES", "15"))
REWRITE = (
    '.venv/bin/python -c "import json; from creditguard.server.app import openapi_document; '
    "open('docs/openapi.json', 'w', encoding='utf-8').write(json.dumps(openapi_document(), "
    "ensure_ascii=False, indent=2, sort_keys=True) + '\\n')\""
)


def test_the_committed_document_is_the_apps() -> None:
    committed = json.loads(DOC.read_text(encoding="utf-8"))
    assert committed == openapi_document(), (
        f"docs/openapi.json has drifted from the API; if the change is meant, rewrite it: {REWRITE}"
    )


def test_the_app_serves_the_same_document(client: object) -> None:
    from fastapi.testclient import TestClient

    assert isinstance(client, TestClient)
    assert client.get("/openapi.json").json() == json.loads(DOC.read_text(encoding="utf-8"))


def test_fuzzed_requests_never_get_a_5xx_and_answers_conform(service: Service) -> None:
    schema = schemathesis.openapi.from_path(DOC)
    schema.app = create_app(service)
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()

        statuses: list[int] = []

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Any) -> None:
            # Authenticated as unit A, so the fuzzing reaches the handlers behind the gate;
            # "positive data acceptance" is off: a schema-valid made-up code is rightly a 400.
            response = case.call_and_validate(
                headers=bearer(TOKEN_A),
                excluded_checks=[schemathesis.checks.positive_data_acceptance],
            )
            statuses.append(response.status_code)  # noqa: B023 - called before the loop moves on

        fuzz()
        assert statuses and all(s < 500 for s in statuses), operation.label
        ran.append(operation.label)
    assert len(ran) == len(json.loads(DOC.read_text(encoding="utf-8"))["paths"])
