"""The guard example of docs/cases-and-outbox.md runs as written and prints what it says."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "cases-and-outbox.md"


def _guard_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## At the step: the guard API", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return blocks[0]


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


@pytest.mark.integration
def test_guard_example_prints_what_its_comments_say() -> None:
    source = _guard_example()
    claims = [_value(c) for c in re.findall(r"^print\(.*\)\s+#\s*(.+)$", source, flags=re.M)]
    assert len(claims) == 4
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, f"{DOC.name} guard example", "exec"), {"__name__": "docs_example"})
    assert [_value(line) for line in out.getvalue().splitlines()] == claims
