"""Measure lists for tests: the common case written once.

Adapter and guard tests need a list that turns a court-enforcement blacklist
record into a refusal at a procurement step; :func:`procurement_refusal` is
that list, with its real legal basis, for any region.
"""

from __future__ import annotations

from creditguard.models import MeasureList

__all__ = ["procurement_refusal"]


def procurement_refusal(region: str, *, code: str = "T-01") -> MeasureList:
    """A one-measure list for ``region``: 失信被执行人 are refused at ``procurement.*`` steps.

    The refusal is carried by 中办发〔2016〕64号 (a central policy document,
    the level 49号 asks for) together with 财库〔2016〕125号,
    which tells procurement to refuse (FACTS §4; rules 11a, 11f).
    """
    return MeasureList.model_validate(
        {
            "region": region,
            "version": "t",
            "measures": [
                {
                    "code": code,
                    "title": "限制参加政府采购活动",
                    "category": "rights_limiting",
                    "legal_basis": [
                        {
                            "title": "《关于加快推进失信被执行人信用监督、警示和惩戒机制建设的意见》"
                            "（中办发〔2016〕64号）",
                            "article": "二",
                            "level": "policy_document",
                        },
                        {
                            "title": "《关于在政府采购活动中查询及使用信用记录有关问题的通知》"
                            "（财库〔2016〕125号）"
                        },
                    ],
                    "applies_to": {
                        "list_kinds": ["blacklist"],
                        "domains": ["court_enforcement"],
                        "steps": ["procurement.*"],
                    },
                    "effect": "deny",
                }
            ],
        }
    )
