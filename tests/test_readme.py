"""The README's examples run as written, and what their comments claim holds."""

from __future__ import annotations

import ast
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from creditguard.config import config_from_dict
from creditguard.mirror import SqliteMirror

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


@pytest.fixture
def demo_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/demo with its records loaded, as after `make demo`."""
    dest = tmp_path / "examples" / "demo"
    shutil.copytree(ROOT / "examples" / "demo", dest, ignore=shutil.ignore_patterns("var"))
    SqliteMirror(dest / "var" / "mirror.db").import_jsonl(dest / "records.jsonl")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def claims(source: str) -> list[tuple[str, Any]]:
    """Lines like `expr   # "value"`: the README says expr evaluates to value."""
    out = []
    for line in source.splitlines():
        m = re.match(r'^(\S[^#]*?)\s+#\s*("[^"]*")', line)
        if m and "=" not in m.group(1).split("(")[0]:
            out.append((m.group(1).strip(), ast.literal_eval(m.group(2))))
    return out


def test_readme_has_the_two_quick_start_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line.split("#")[0].strip() for line in blocks("sh")[0].splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    assert "make demo" in quick and "make test" in quick


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_examples_run_and_their_claims_hold(demo_tree: Path, index: int) -> None:
    source = blocks("python")[index]
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(source, f"README.md python block {index + 1}", "exec"), namespace)
    try:
        for expr, expected in claims(source):
            assert eval(expr, namespace) == expected, expr
    finally:
        guard = namespace.get("guard")
        if guard is not None and hasattr(guard, "close"):
            guard.close()


def test_config_example_is_valid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "measures").mkdir()
    text = next(b for b in blocks("toml") if "[guard]" in b)
    cfg = config_from_dict(tomllib.loads(text), base_dir=tmp_path)
    assert cfg.guard.deadline_ms == 800
    assert {s.type for s in cfg.sources} == {"mirror", "platform"}
    assert cfg.failure.steps == {"procurement.*": "stale"}
