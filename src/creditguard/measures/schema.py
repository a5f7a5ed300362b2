"""JSON Schema of the measure-list file format, with descriptions for editors.

Generated from :class:`~creditguard.models.MeasureList` so it cannot drift
from what the loader accepts, then annotated. It is a little stricter than
the loader where that helps people typing: unknown measure fields are
flagged (validation warns about them too).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from creditguard.measures.validate import KNOWN_STEPS
from creditguard.models import KNOWN_DOMAINS, MeasureList

__all__ = ["SCHEMA_ID", "measure_list_schema"]

SCHEMA_ID = "https://creditguard.invalid/schemas/measure-list-v1.json"

_TOP = {
    "region": "6-digit administrative division code (GB/T 2260) of the issuing region; 000000 is national.",
    "version": "Version of this list, e.g. 2026.1. Several versions of one region may be installed; the one in force on the check's date is used.",
    "issued_by": "Issuing body (发布机关).",
    "published_on": "Date the list was published. Nothing in it applies before (浙江省公共信用信息管理条例 Art 28).",
    "effective_from": "Date the list takes effect.",
    "extends": "Region code of the parent list whose measures this list inherits (000000 → province → city).",
    "withdraws": "Inherited measures withdrawn for this region, each with a stated reason.",
    "measures": "The measures this list adds (or, with a parent's code, narrows).",
}
_MEASURE = {
    "code": "Unique code of the measure, e.g. NJ-01. A child list reusing a parent's code replaces that measure for its region (it may narrow, never widen, a rights_limiting one).",
    "title": "Plain title shown to officers and applicants, e.g. 限制参加政府采购活动.",
    "category": "rights_limiting: reduces rights or adds duties, applied by public authorities under law (needs a law or administrative regulation); management: taken as duties need; market_social: taken by other organisations.",
    "legal_basis": 'The instruments and articles the measure rests on. Object form recommended: { title = "《…》", article = "第…条", level = "law" }.',
    "source": "Where the measure comes from (statute, memorandum, local, example …); free text.",
    "applies_to": "Which records (list kinds, domains) and workflow steps the measure applies to.",
    "effect": "What the measure does at a step: notify < increase_inspection < strict_review < no_commitment < restrict < deny (most severe wins).",
    "extends_to": "Related persons the measure also reaches through an organization's record: legal_representative, responsible_person, related_person.",
    "effective_from": "First day the measure is in force.",
    "effective_to": "Last day the measure is in force (inclusive).",
    "published_on": "Date the measure was published; it never applies before (defaults to the list's published_on).",
}
_APPLIES = {
    "list_kinds": "blacklist (黑名单) and/or focus (重点关注名单).",
    "domains": 'Record domains, or ["*"] for any: ' + ", ".join(sorted(KNOWN_DOMAINS)) + ".",
    "steps": "Glob patterns over workflow step names (spec §8), e.g. procurement.* ; well-known steps: "
    + ", ".join(KNOWN_STEPS)
    + ".",
}
_BASIS = {
    "title": "The instrument, in 《》, e.g. 《中华人民共和国政府采购法》.",
    "article": "The article, e.g. 第二十二条.",
    "level": "Level of the instrument. When omitted it is inferred from the title where unambiguous (《…法》 law; a national 条例 administrative regulation; a provincial or city 条例 local regulation), otherwise validation warns.",
}
_WITHDRAWAL = {
    "code": "Code of the inherited measure withdrawn for this region.",
    "reason": "Why it is withdrawn here (required).",
}


def _describe(node: dict[str, Any], texts: dict[str, str]) -> None:
    for key, text in texts.items():
        prop = node["properties"].get(key)
        if prop is not None:
            prop["description"] = text
            prop.pop("title", None)


@cache
def _schema() -> dict[str, Any]:
    schema = MeasureList.model_json_schema(mode="validation")
    defs = schema["$defs"]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "creditguard measure list"
    schema["additionalProperties"] = False
    _describe(schema, _TOP)
    _describe(defs["Measure"], _MEASURE)
    _describe(defs["AppliesTo"], _APPLIES)
    _describe(defs["LegalBasis"], _BASIS)
    _describe(defs["Withdrawal"], _WITHDRAWAL)
    defs["Measure"]["additionalProperties"] = False
    defs["LegalBasis"]["additionalProperties"] = False
    # Spec §5.1 allows a basis as plain text as well as the object form.
    lb = defs["Measure"]["properties"]["legal_basis"]
    lb["items"] = {
        "anyOf": [
            {"$ref": "#/$defs/LegalBasis"},
            {
                "type": "string",
                "minLength": 1,
                "description": "Instrument and article as text; level inferred.",
            },
        ]
    }
    steps = defs["AppliesTo"]["properties"]["steps"]
    steps["items"]["pattern"] = r"^[a-z0-9_*?\[\]!-]+(\.[a-z0-9_*?\[\]!-]+)*$"
    steps["items"]["examples"] = list(KNOWN_STEPS)
    defs["AppliesTo"]["properties"]["domains"]["items"]["examples"] = ["*", *sorted(KNOWN_DOMAINS)]
    return schema


def measure_list_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a measure-list file; a fresh copy each call."""
    return copy.deepcopy(_schema())
