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
legal_basis = [{basis}]
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


#: Bases that carry the default measures (FACTS §4; docs/measure-lists.md rule 11f):
#: a refusal of blacklisted suppliers in procurement rests on 财库〔2016〕125号 (the
#: three lists it names) and 政府采购法 Art 77 (procurement's own list); a
#: restriction of 失信被执行人 on 中办发〔2016〕64号 part 二.
DENY_BASIS = (
    '{ title = "《中华人民共和国政府采购法》", article = "第七十七条", level = "law" }, '
    '{ title = "《关于在政府采购活动中查询及使用信用记录有关问题的通知》（财库〔2016〕125号）" }'
)
RESTRICT_BASIS = (
    '{ title = "《关于加快推进失信被执行人信用监督、警示和惩戒机制建设的意见》'
    '（中办发〔2016〕64号）", article = "二", level = "policy_document" }'
)
#: The domains those bases carry.
DENY_DOMAINS = '["court_enforcement", "tax", "procurement"]'
RESTRICT_DOMAINS = '["court_enforcement"]'


def measure(
    code: str = "M-01",
    *,
    category: str = "rights_limiting",
    kinds: str = '["blacklist"]',
    domains: str | None = None,
    steps: str = '["procurement.*"]',
    effect: str = "deny",
    extra: str = "",
    article: str | None = None,
    basis: str | None = None,
) -> str:
    """One measure; its basis and domains default to what carries ``effect``.

    ``article`` cites that article of 政府采购法 alone instead.
    """
    restrict = effect == "restrict"
    if basis is None:
        if article is not None:
            basis = f'{{ title = "《中华人民共和国政府采购法》", article = "{article}", level = "law" }}'
        else:
            basis = RESTRICT_BASIS if restrict else DENY_BASIS
    if domains is None:
        domains = RESTRICT_DOMAINS if restrict else DENY_DOMAINS
    text = GOOD.format(
        code=code,
        category=category,
        kinds=kinds,
        domains=domains,
        steps=steps,
        effect=effect,
        basis=basis,
    )
    return text + extra


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p
