"""The plain-language explanation of a decision, in Chinese, for the applicant.

It names the records (without disclosing non-public ones), the measures and
their legal basis, the outcome, how fresh the data was, and the applicant's
remedies: objection (异议) to the identifying department and credit repair
(信用修复).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from creditguard.models import AppliedMeasure, Decision

__all__ = ["EFFECT_LABELS", "OUTCOME_LABELS", "data_time", "explain"]

OUTCOME_LABELS = {
    "allow": "予以通过",
    "review": "转人工审查（重点审查）",
    "restrict": "予以限制",
    "deny": "不予通过",
}
EFFECT_LABELS = {
    "deny": "禁止",
    "restrict": "限制",
    "strict_review": "重点审查",
    "no_commitment": "不适用告知承诺制",
    "increase_inspection": "提高检查频次",
    "notify": "提示",
}
LIST_KIND_LABELS = {"blacklist": "黑名单", "focus": "重点关注名单"}
ROLE_LABELS = {"legal_representative": "法定代表人", "responsible_person": "主要负责人"}


def _basis(am: AppliedMeasure) -> str:
    return "、".join(str(b) for b in am.legal_basis)


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


def explain(d: Decision) -> str:
    """Build the explanation text of ``d``."""
    parts: list[str] = []
    loaded = data_time(d)
    when = loaded.strftime("%Y-%m-%d %H:%M") if loaded else "未知时间"
    sources = "、".join(p.source for p in d.provenance) or "无"
    failed = any(p.error for p in d.provenance)
    if not d.verified and (failed or not d.stale):
        parts.append(
            f"未能取得该主体的信用记录（{d.degraded_reason or '数据源不可用'}），本决定未经核验；"
            f"按本环节的处理策略，结果为：{OUTCOME_LABELS[d.outcome]}。"
        )
    parts.append(
        f"信用查询：{d.as_of.isoformat()}，环节 {d.step}，数据来源 {sources}（数据截至 {when}）。"
    )
    if d.stale:
        age = f"，已缓存{_age_text(d.stale_age_s)}" if d.stale_age_s is not None else ""
        parts.append(
            f"部分数据为数据源故障时使用的缓存数据（未能实时查询{age}），可能不是最新，"
            "本决定未经核验。"
        )
    if d.replay_uses_current_status:
        parts.append(
            f"本次为对 {d.as_of.isoformat()} 的回溯查询；部分记录未提供状态变更历史，"
            "回溯结果依据其当前状态作出，可能与当日的实际状态不同。"
        )
    if not d.records:
        if d.verified:
            nf = [p.source for p in d.provenance if not p.found]
            if nf and len(nf) == len(d.provenance):
                parts.append("数据源中无该主体的信息，视为无失信记录。")
            parts.append("该主体在本查询日无有效的失信记录，未适用失信联合惩戒措施。")
            parts.append(f"处理结果：{OUTCOME_LABELS[d.outcome]}。")
        return "".join(parts)
    lines: list[str] = []
    hidden = 0
    for er in d.records:
        r = er.record
        if not r.public:
            hidden += 1
            continue
        i = len(lines) + 1  # numbered among the records shown, so hidden ones leave no gap
        via = ""
        if r.role != "self":
            via = f"（因担任{r.via or '相关企业'}的{ROLE_LABELS.get(r.role, r.role)}）"
        until = f"至 {r.expires_on.isoformat()}" if r.expires_on else "无固定期限"
        lines.append(
            f"{i}. {r.list_name or LIST_KIND_LABELS[r.list_kind]}{via}："
            f"认定部门 {r.authority.name or r.authority.code or '未注明'}，"
            f"文号 {r.basis or '未注明'}，列入日期 {r.listed_on.isoformat()}，{until}。"
        )
    if hidden:
        lines.append(f"另有依法不予公开的记录 {hidden} 条，详情可向认定部门查询。")
    parts.append("该主体存在以下有效的失信记录：\n" + "\n".join(lines) + "\n")
    if d.measures:
        mlines = []
        for am in d.measures:
            via = ""
            if am.via:
                role, _, org = am.via.partition(":")
                via = f"（通过其担任 {org} 的{ROLE_LABELS.get(role, role)}）"
            mlines.append(
                f"- {am.code} {am.title}（{EFFECT_LABELS[am.effect]}）{via}，依据：{_basis(am)}。"
            )
        lst = (
            f" {d.list_region} 措施清单（版本 {d.list_version}）"
            if d.list_region
            else "适用的措施清单"
        )
        parts.append(f"根据{lst}，本环节适用以下失信惩戒措施：\n" + "\n".join(mlines) + "\n")
    else:
        parts.append("根据适用的措施清单，本环节无应适用的惩戒措施。\n")
    for am in d.conditions:
        parts.append(
            f"另：{am.code} {am.title}（{EFFECT_LABELS[am.effect]}），依据：{_basis(am)}，在告知承诺环节适用。\n"
        )
    parts.append(f"处理结果：{OUTCOME_LABELS[d.outcome]}。\n")
    parts.append(
        "如对上述失信记录有异议，可向认定部门提出异议申请；已纠正失信行为、履行相关义务的，可依法申请信用修复。"
    )
    return "".join(parts)
