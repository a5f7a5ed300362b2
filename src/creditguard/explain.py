"""The text of a decision, in standard Chinese (规范用语), for the applicant or the officer.

It names the records (without disclosing non-public ones), the measures and
their legal basis, whose measure list it is (and whether that list is an
official one), the outcome, how fresh the data was, and the remedies in force
on the decision's date: objection (异议) to the identifying department, and
credit repair (信用修复) under the rules of that date — or, for records of
失信被执行人, the court's route.

All wording is data (``creditguard/data/wording/<version>.toml``): step,
source and region names, outcome and effect labels, and the remedy texts by
date. A decision records the wording version it was written with
(``Decision.wording_version``), so its text can be produced again exactly as
it was shown. No internal identifier (step ids, domains, effect names,
source names) appears in the text; the codes stay in the JSON.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from datetime import date
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from creditguard.errors import ConfigError

if TYPE_CHECKING:
    from datetime import datetime

    from creditguard.models import AppliedMeasure, Decision, LegalBasis

__all__ = [
    "EFFECT_LABELS",
    "OUTCOME_LABELS",
    "WORDING_VERSION",
    "data_time",
    "explain",
    "region_name",
    "repair_text",
    "step_label",
    "wording",
]

#: The wording new decisions are written with.
WORDING_VERSION = "2026.1"


@cache
def wording(version: str = WORDING_VERSION) -> dict[str, Any]:
    """The wording data of ``version`` (read once); an unknown version is a :class:`ConfigError`."""
    try:
        text = (
            resources.files("creditguard")
            .joinpath(f"data/wording/{version}.toml")
            .read_text("utf-8")
        )
    except (FileNotFoundError, OSError):
        raise ConfigError(f"no wording data for version {version!r}") from None
    return tomllib.loads(text)


_CURRENT = wording()
OUTCOME_LABELS: dict[str, str] = {
    k: v for k, v in _CURRENT["outcomes"].items() if not k.startswith("unverified_")
}
EFFECT_LABELS: dict[str, str] = dict(_CURRENT["effects"])


def step_label(step: str, version: str = WORDING_VERSION) -> str:
    """The Chinese name of a workflow step (spec §8), or a neutral phrase for an own step."""
    w = wording(version)
    return str(w["steps"].get(step, w["labels"]["unknown_step"]))


def region_name(code: str, version: str = WORDING_VERSION) -> str:
    """The name of a division code (GB/T 2260), or of its nearest listed ancestor."""
    from creditguard.measures.catalog import parent_regions

    names = wording(version)["regions"]
    for c in (code, *parent_regions(code)) if len(code) == 6 and code.isdigit() else ():
        if c in names:
            return str(names[c])
    return "有关地区"


def repair_text(day: date, version: str = WORDING_VERSION) -> str:
    """The credit-repair route in force on ``day`` (FACTS §5)."""
    for era in wording(version)["remedy"]["repair"]:
        end = era.get("to")
        if era["from"] <= day and (end is None or day <= end):
            return str(era["text"])
    raise ConfigError(f"wording {version}: no repair text for {day}")


def _source_label(name: str, w: dict[str, Any]) -> str:
    if any("\u4e00" <= ch <= "\u9fff" for ch in name):
        return name  # an integrator's own Chinese name
    return str(w["sources"].get(name, w["sources"]["other"]))


def data_time(d: Decision) -> datetime | None:
    """When the data behind ``d`` was last loaded ("数据截至"): the oldest source's.

    A source's data time is its ``data_as_of`` (a mirror's last import or
    sync) when it has one, else when it was fetched (a live source).
    """
    times = [p.data_as_of or p.fetched_at for p in d.provenance if p.error is None]
    return min(times, default=None)


def _age_text(seconds: float) -> str:
    if seconds < 60:
        return "不足 1 分钟"
    if seconds < 3600:
        return f"约 {int(seconds // 60)} 分钟"
    if seconds < 86400:
        return f"约 {int(seconds // 3600)} 小时"
    return f"约 {int(seconds // 86400)} 天"


def _bases(bases: Iterable[LegalBasis]) -> str:
    """Several articles of one instrument cited once: 《…》第二十二条、第七十七条."""
    grouped: dict[str, list[str]] = {}
    for b in bases:
        articles = grouped.setdefault(b.title, [])
        if b.article and b.article not in articles:
            articles.append(b.article)
    return "；".join(title + "、".join(articles) for title, articles in grouped.items())


def _org(name: str, code: str) -> str:
    # An organisation's code is public (unlike a person's number); its name when known.
    return name if name else f"统一社会信用代码为 {code} 的单位"


def _shown(am: AppliedMeasure, public_ids: set[str], audience: str) -> bool:
    # A measure resting only on records the applicant may not see still decides the
    # outcome, but is not listed to the applicant (the officer's view shows it).
    return audience == "officer" or not am.record_ids or any(i in public_ids for i in am.record_ids)


def _outcome(d: Decision, w: dict[str, Any]) -> str:
    failed = not d.verified and not d.stale
    if failed:
        return str(w["outcomes"][f"unverified_{d.outcome}"])
    effects = {am.effect for am in d.measures}
    if d.outcome == "review" and "no_commitment" in effects and "strict_review" not in effects:
        # Only "no approval by commitment" bit: the ordinary procedure, not a key review.
        return str(w["effects"]["no_commitment"])
    return str(w["outcomes"][d.outcome])


def _refused_note(d: Decision, w: dict[str, Any], officer: bool) -> str:
    """For the officer only: the list's measures refused by validation, which were not applied."""
    if not officer or not d.list_refused:
        return ""
    labels = w["labels"]
    return (
        str(labels["list_refused"]).format(
            n=len(d.list_refused), term=labels["measures_term"], codes="、".join(d.list_refused)
        )
        + "\n"
    )


def explain(d: Decision, *, audience: str = "applicant") -> str:
    """The text of ``d`` in its own wording version; ``audience`` is applicant or officer."""
    w = wording(d.wording_version)
    labels = w["labels"]
    term = labels["measures_term"]
    officer = audience == "officer"
    parts: list[str] = []
    loaded = data_time(d)
    when = f"数据截至 {loaded.strftime('%Y-%m-%d %H:%M')}" if loaded else "未能取得数据"
    sources: list[str] = []
    for p in d.provenance:
        label = _source_label(p.source, w)
        if label not in sources:
            sources.append(label)
    step = w["steps"].get(d.step, labels["unknown_step"])
    parts.append(
        f"办理事项：{step}；办理地区：{region_name(d.region, d.wording_version)}；"
        f"核查日期：{d.as_of.isoformat()}。\n"
    )
    parts.append(f"信用信息来源：{'、'.join(sources) or '无'}（{when}）。\n")
    if not d.verified and not d.stale:
        why = f"（{d.degraded_reason}）" if officer and d.degraded_reason else ""
        parts.append(f"信用信息暂未能核验{why}，本结果不是失信惩戒；待信用信息核验后再行办理。\n")
    if d.stale:
        age = f"，已缓存{_age_text(d.stale_age_s)}" if d.stale_age_s is not None else ""
        parts.append(
            f"部分信用信息为数据源故障时使用的缓存数据（未能实时查询{age}），可能不是最新，"
            "本结果未经实时核验。\n"
        )
    if d.replay_uses_current_status:
        parts.append(
            f"本次为对 {d.as_of.isoformat()} 的回溯查询；部分记录未提供状态变更历史，"
            "回溯结果依据其当前状态作出，可能与当日的实际状态不同。\n"
        )
    if not d.records:
        if d.verified or d.stale:
            nf = [p.source for p in d.provenance if not p.found]
            if nf and len(nf) == len(d.provenance):
                parts.append("信用信息来源中无该主体的信息，视为无失信记录。\n")
            parts.append(f"经核查，该主体在核查日无有效的失信记录，未适用{term}。\n")
        parts.append(_refused_note(d, w, officer))
        parts.append(f"处理结果：{_outcome(d, w)}。")
        return "".join(parts)

    lines: list[str] = []
    hidden = 0
    public_ids: set[str] = set()
    names: dict[str, str] = {}
    court = False
    for er in d.records:
        r = er.record
        court = court or r.domain == "court_enforcement"
        if not r.public and not officer:
            hidden += 1
            continue
        public_ids.add(r.record_id)
        via = ""
        if r.role != "self":
            extra = r.model_extra or {}
            org = _org(str(extra.get("via_name") or ""), r.via or er.subject_code)
            names[r.via or er.subject_code] = org
            via = f"（因时任{org}{w['roles'].get(r.role, '相关人员')}）"
        generic = labels[
            "generic_serious_list" if r.list_kind == "blacklist" else "generic_focus_list"
        ]
        until = f"有效期至 {r.expires_on.isoformat()}" if r.expires_on else "无固定期限"
        private = "（依法不予公开）" if not r.public else ""
        lines.append(
            f"{len(lines) + 1}. {r.list_name or generic}{via}{private}："
            f"认定部门 {r.authority.name or '未注明'}，"
            f"文号 {r.basis or '未注明'}，列入日期 {r.listed_on.isoformat()}，{until}。"
        )
    if hidden:
        lines.append(f"另有依法不予公开的记录 {hidden} 条，详情可向认定部门查询。")
    parts.append("经核查，该主体存在以下有效的失信记录：\n" + "\n".join(lines) + "\n")

    shown = [am for am in d.measures if _shown(am, public_ids, audience)]
    unseen = len(d.measures) - len(shown)
    if d.measures:
        issuer = d.list_issued_by or "有关机关"
        note = w["standing"].get(d.list_standing, w["standing"]["example"])
        version = f"{d.list_version}版" if d.list_version else ""
        desc = "；".join(x for x in (version, note) if x)
        head = f"依据{issuer}的{term}清单" + (f"（{desc}）" if desc else "")
        mlines: list[str] = []
        for am in shown:
            via = ""
            if am.via:
                role, _, code = am.via.partition(":")
                org = names.get(code) or _org("", code)
                via = f"（因时任{org}{w['roles'].get(role, '相关人员')}）"
            mlines.append(
                f"{len(mlines) + 1}. {am.title}{via}（措施编号 {am.code}，{w['effects'][am.effect]}），"
                f"依据：{_bases(am.legal_basis)}。"
            )
        if unseen:
            mlines.append(f"另有 {unseen} 项{term}所依据的记录依法不予公开，详情可向认定部门查询。")
        parts.append(f"{head}，本事项适用以下{term}：\n" + "\n".join(mlines) + "\n")
    else:
        parts.append(f"依据适用的{term}清单，本事项无应适用的{term}。\n")
    for am in d.conditions:
        if not _shown(am, public_ids, audience):
            continue
        commitment = w["steps"]["licensing.commitment"]
        parts.append(
            f"另：{am.title}（措施编号 {am.code}），依据：{_bases(am.legal_basis)}，"
            f"在{commitment}中适用：{w['effects'][am.effect]}。\n"
        )
    parts.append(_refused_note(d, w, officer))
    parts.append(f"处理结果：{_outcome(d, w)}。\n")
    remedy = w["remedy"]["objection"]
    if court:
        remedy += w["remedy"]["court"]
    if not court or any(er.record.domain != "court_enforcement" for er in d.records):
        remedy += repair_text(d.as_of, d.wording_version)
    parts.append(f"救济途径：{remedy}")
    return "".join(parts)
