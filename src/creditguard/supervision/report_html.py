"""``creditguard report --html``: the evaluation figures as one self-contained HTML page.

The charts are drawn by matplotlib (Agg backend, no display needed) and
embedded as base64 PNG, so the file needs no network, no script and no other
file to open. matplotlib comes with the ``report`` extra
(``pip install 'creditguard[report]'``); without it :func:`render_html`
raises :class:`~creditguard.errors.ConfigError` saying so.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

from creditguard.errors import ConfigError

__all__ = ["render_html"]

# Chart labels stay ASCII: a server often has no CJK font, and matplotlib would draw boxes.
_EFFECTS = ("deny", "restrict", "no_commitment", "strict_review", "increase_inspection", "notify")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(
            "report --html draws its charts with matplotlib: pip install 'creditguard[report]'"
        ) from None
    matplotlib.use("Agg", force=True)  # no display: render to memory only
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _bars(
    plt: Any,
    title: str,
    regions: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    stacked: bool = False,
) -> str:
    """A grouped (or stacked) bar chart, one group per region, as base64 PNG."""
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    try:
        n = max(len(series), 1)
        width = 0.8 if stacked else 0.8 / n
        xs = list(range(len(regions)))
        bottom = [0.0] * len(regions)
        for i, (name, values) in enumerate(series.items()):
            if stacked:
                ax.bar(xs, values, width, bottom=bottom, label=name)
                bottom = [b + v for b, v in zip(bottom, values, strict=True)]
            else:
                offset = (i - (n - 1) / 2) * width
                ax.bar([x + offset for x in xs], values, width, label=name)
        ax.set_xticks(xs, [r or "-" for r in regions])
        if not any(v for values in series.values() for v in values):
            ax.set_ylim(0, 1)  # all zero: a plain empty axis, not matplotlib's ±0.05 scale
        ax.set_title(title)
        ax.yaxis.get_major_locator().set_params(integer=True)
        if series:
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _png(fig)
    finally:
        plt.close(fig)


def _get(figs: Mapping[str, Any], *path: str) -> float:
    value: Any = figs
    for key in path:
        if not isinstance(value, Mapping):
            return 0.0
        value = value.get(key, 0)
    return float(value) if isinstance(value, int | float) else 0.0


def _charts(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    plt = _pyplot()
    checks: Mapping[str, Any] = doc.get("checks", {})
    feedback: Mapping[str, Any] = doc.get("feedback", {})
    sup: Mapping[str, Any] = doc.get("regions", {})
    out: list[tuple[str, str]] = []
    regs = sorted(checks)
    if regs:
        out.append(
            (
                "检查与命中 Checks and hits",
                _bars(
                    plt,
                    "Checks, hits, unverified",
                    regs,
                    {
                        k: [_get(checks[r], k) for r in regs]
                        for k in ("checks", "hits", "unverified")
                    },
                ),
            )
        )
        effects = sorted(
            {e for r in regs for e in checks[r].get("measures_by_effect", {})},
            key=lambda e: (_EFFECTS.index(e) if e in _EFFECTS else len(_EFFECTS), e),
        )
        out.append(
            (
                "按效果统计的措施 Measures by effect",
                _bars(
                    plt,
                    "Measures applied, by effect",
                    regs,
                    {e: [_get(checks[r], "measures_by_effect", e) for r in regs] for e in effects},
                    stacked=True,
                ),
            )
        )
    fregs = sorted(feedback)
    if fregs:
        out.append(
            (
                "反馈 Feedback",
                _bars(
                    plt,
                    "Feedback delivered and pending",
                    fregs,
                    {
                        k: [_get(feedback[r], k) for r in fregs]
                        for k in ("delivered", "pending", "dead")
                    },
                    stacked=True,
                ),
            )
        )
    sregs = sorted(sup)
    if sregs:
        rows = {
            "rectified on time": ("rectifications", "confirmed_on_time"),
            "rectification overdue": ("rectifications", "overdue"),
            "interviews": ("interviews", "prompt"),
            "commitments": ("commitments", "made"),
            "breaches": ("commitments", "breached"),
            "repairs granted": ("repairs", "granted"),
            "disclosures on time": ("disclosures", "on_time"),
            "disclosures late": ("disclosures", "late"),
        }
        series = {k: [_get(sup[r], *p) for r in sregs] for k, p in rows.items()}
        series["interviews"] = [
            _get(sup[r], "interviews", "prompt") + _get(sup[r], "interviews", "warning")
            for r in sregs
        ]
        out.append(("信用监管 Supervision", _bars(plt, "Supervision", sregs, series)))
        out.append(
            (
                "培训学时 Training hours",
                _bars(
                    plt,
                    "Training and consulting hours",
                    sregs,
                    {
                        "training": [_get(sup[r], "training", "hours") for r in sregs],
                        "consulting": [_get(sup[r], "consulting", "hours") for r in sregs],
                    },
                ),
            )
        )
    return out


def _table(title: str, figures: Mapping[str, Any]) -> str:
    if not figures:
        return f"<h2>{html.escape(title)}</h2><p>无数据 (no figures in this period)</p>"
    rows = []
    for reg in sorted(figures):
        for key, value in _flatten(figures[reg]):
            rows.append(
                f"<tr><td>{html.escape(reg or '-')}</td><td>{html.escape(key)}</td>"
                f"<td class=n>{html.escape(_num(value))}</td></tr>"
            )
    return (
        f"<h2>{html.escape(title)}</h2><table><tr><th>region</th><th>figure</th>"
        f"<th>value</th></tr>{''.join(rows)}</table>"
    )


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        out: list[tuple[str, Any]] = []
        for k in value:
            out.extend(_flatten(value[k], f"{prefix}.{k}" if prefix else str(k)))
        return out
    return [(prefix, value)]


def render_html(doc: Mapping[str, Any]) -> str:
    """The report document (``report --json``'s shape) as one offline HTML page with charts."""
    charts = "".join(
        f'<figure><figcaption>{html.escape(cap)}</figcaption><img alt="{html.escape(cap)}" '
        f'src="data:image/png;base64,{png}"></figure>'
        for cap, png in _charts(doc)
    )
    period = f"{doc.get('from')} … {doc.get('to')}"
    region = doc.get("region")
    scope = f"，地区 {region}" if region else ""
    outbox = doc.get("outbox", {})
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>信用监管评估数据 {html.escape(period)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
td, th {{ border: 1px solid #bbb; padding: 2px 8px; text-align: left; }}
td.n {{ text-align: right; }}
figure {{ margin: 1em 0; }} figcaption {{ font-weight: bold; }}
</style></head><body>
<h1>信用监管评估数据 Evaluation figures</h1>
<p id="period">期间 {html.escape(period)}{html.escape(scope)}（通知第十九条 notice 893 §19）</p>
{charts}
{_table("检查 Checks (decision journal)", doc.get("checks", {}))}
{_table("反馈 Feedback (outbox)", doc.get("feedback", {}))}
{_table("待反馈案例 Cases awaiting feedback (now)", doc.get("cases", {}))}
{_table("信用监管 Supervision", doc.get("regions", {}))}
<h2>发件箱 Outbox backlog</h2>
<p>{html.escape(", ".join(f"{k}: {v}" for k, v in outbox.items() if not isinstance(v, dict)))}</p>
</body></html>
"""
