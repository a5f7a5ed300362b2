"""Small builders of measure-list text for the tests."""

from __future__ import annotations

from pathlib import Path

HEAD = """region = "{region}"
version = "{version}"
issued_by = "test"
published_on = {published}
effective_from = {effective}
{extends}"""

GOOD = """
[[measures]]
code = "{code}"
title = "测试措施"
category = "{category}"
legal_basis = [{{ title = "《中华人民共和国政府采购法》", article = "{article}", level = "law" }}]
applies_to = {{ list_kinds = {kinds}, domains = {domains}, steps = {steps} }}
effect = "{effect}"
"""


def head(
    region: str = "320100",
    version: str = "1",
    *,
    extends: str | None = None,
    published: str = "2026-01-01",
    effective: str = "2026-01-01",
) -> str:
    ext = f'extends = "{extends}"\n' if extends else ""
    return HEAD.format(
        region=region, version=version, published=published, effective=effective, extends=ext
    )


def measure(
    code: str = "M-01",
    *,
    category: str = "rights_limiting",
    kinds: str = '["blacklist"]',
    domains: str = '["*"]',
    steps: str = '["procurement.*"]',
    effect: str = "deny",
    extra: str = "",
    article: str = "第二十二条",
) -> str:
    text = GOOD.format(
        code=code,
        category=category,
        kinds=kinds,
        domains=domains,
        steps=steps,
        effect=effect,
        article=article,
    )
    return text + extra


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p
