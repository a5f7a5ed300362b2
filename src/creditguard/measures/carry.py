"""Whether the articles a measure cites carry it (issue 9: "cite articles that say what the measure claims").

The instruments table (``creditguard/data/instruments.toml``) records, per
instrument, the articles whose content the project's domain notes establish
and what each carries: which effects, for which records (list kinds,
domains), at which steps. A rights-limiting measure whose every cited article
is known **not** to carry its effect for its records is an error; an article
the table does not describe is of unknown content — a warning, because the
table holds only what was established from sources (it is not the statute
book), and refusing every article it does not know would refuse most lawful
lists. An article beyond the instrument's known article count does not exist:
an error for any measure.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from creditguard.measures.instruments import (
    WHOLE,
    ArticleFact,
    ArticleKey,
    Carrier,
    Instrument,
    cited_articles,
    show_article,
)
from creditguard.models import LegalBasis, Measure

__all__ = ["ArticleVerdict", "carrier_misses", "carry_problems", "judge_articles", "steps_beyond"]


def steps_beyond(child: Sequence[str], parent: Sequence[str]) -> list[str]:
    """Patterns of ``child`` that reach beyond every pattern of ``parent``.

    A pattern is covered when a parent glob matches it as text:
    ``procurement.bid`` and ``procurement.*`` are under ``procurement.*``;
    ``*`` is not under ``procurement.*``.
    """
    return [p for p in child if not any(fnmatch.fnmatchcase(p, q) for q in parent)]


def carrier_misses(c: Carrier, m: Measure) -> list[str]:
    """How ``m`` goes beyond what ``c`` carries (empty: ``c`` carries ``m``)."""
    out = []
    if m.effect not in c.effects:
        out.append(f"effect {m.effect}")
    at = m.applies_to
    if c.list_kinds is not None:
        extra = sorted({str(k) for k in at.list_kinds} - c.list_kinds)
        if extra:
            out.append("list kinds " + ", ".join(extra))
    if c.domains is not None:
        extra = sorted(set(at.domains) - c.domains)
        if extra:
            out.append("domains " + ", ".join(extra))
    if c.steps is not None:
        wider = steps_beyond(at.steps, c.steps)
        if wider:
            out.append("steps " + ", ".join(wider))
    return out


Status = Literal["carries", "not_carried", "unknown", "missing"]


@dataclass(frozen=True, slots=True)
class ArticleVerdict:
    """One cited article of one basis, as judged against the table."""

    basis: int  # index in the measure's legal_basis
    instrument: Instrument
    key: ArticleKey
    status: Status
    fact: ArticleFact | None = None
    why: str = ""  # for not_carried: what the article carries and what the measure adds

    @property
    def cited(self) -> str:
        """``《name》（doc_no）第22条`` (the whole document: just its title)."""
        return self.instrument.cited + ("" if self.key == WHOLE else show_article(self.key))


def _verdict(j: int, inst: Instrument, key: ArticleKey, m: Measure) -> ArticleVerdict:
    count = inst.article_count
    if key[0] == "条" and count is not None and not 1 <= key[1] <= count:
        return ArticleVerdict(j, inst, key, "missing")
    fact = inst.articles.get(key)
    if fact is None:
        return ArticleVerdict(j, inst, key, "unknown")
    if any(not carrier_misses(c, m) for c in fact.carries):
        return ArticleVerdict(j, inst, key, "carries", fact)
    if not fact.carries:
        why = "it carries no measure itself" + (f" ({fact.targets})" if fact.targets else "")
    else:
        parts = []
        for c in fact.carries:
            parts.append(f"{c.describe()} (the measure adds {'; '.join(carrier_misses(c, m))})")
        why = "it carries " + " | ".join(parts)
        if fact.targets:
            why += f"; its targets: {fact.targets}"
    return ArticleVerdict(j, inst, key, "not_carried", fact, why)


def judge_articles(
    m: Measure, bases: Sequence[tuple[LegalBasis, Instrument | None]]
) -> list[ArticleVerdict]:
    """A verdict for each article each known instrument is cited for.

    ``bases`` pairs each basis with the edition the table found (``None``: an
    instrument the table does not know, reported by the level rules and not
    judged here). A basis citing no article is judged on the table's
    whole-document entry (``article = "*"``) if there is one, else skipped
    (the "cites no article" warning covers it).
    """
    out: list[ArticleVerdict] = []
    for j, (b, inst) in enumerate(bases):
        if inst is None:
            continue
        keys = cited_articles(b.title, b.article)
        if not keys:
            if WHOLE in inst.articles:
                out.append(_verdict(j, inst, WHOLE, m))
            continue
        out.extend(_verdict(j, inst, k, m) for k in keys)
    return out


#: Effects that reduce rights (the same set the category rule uses).
_RIGHTS_EFFECTS = frozenset({"restrict", "deny"})


def carry_problems(
    m: Measure, bases: Sequence[tuple[LegalBasis, Instrument | None]]
) -> list[tuple[str, str, str]]:
    """``(message, field, severity)`` for rules 11f–11h of docs/measure-lists.md.

    - an article beyond the instrument's known count does not exist (error,
      any measure);
    - for a rights-limiting measure (category ``rights_limiting`` or effect
      restrict/deny): an article of unknown content is a warning; when every
      basis was judged and every article is known not to carry the measure,
      "basis does not carry the measure" (error). A basis the table cannot
      judge (unknown instrument; no article and no whole-document entry) may
      carry it, so the measure is then not refused by this rule.

    ``bases`` pairs each basis with the edition the table found for it
    (:func:`creditguard.measures.basis.judge_basis`).
    """
    out: list[tuple[str, str, str]] = []
    verdicts = judge_articles(m, bases)
    for v in verdicts:
        if v.status == "missing":
            out.append(
                (
                    f"{v.cited} does not exist: {v.instrument.cited} has "
                    f"{v.instrument.article_count} articles (rule: cited articles must exist)",
                    f"legal_basis.{v.basis}.article",
                    "error",
                )
            )
    if m.category != "rights_limiting" and m.effect not in _RIGHTS_EFFECTS:
        return out
    for v in verdicts:
        if v.status == "unknown":
            out.append(
                (
                    f"the content of {v.cited} is not in the instruments table: whether it "
                    f"carries {m.effect} for this measure's records was not checked "
                    "(rule: basis must carry the measure)",
                    f"legal_basis.{v.basis}.article",
                    "warning",
                )
            )
    judged = [v for v in verdicts if v.status != "missing"]
    every_basis_judged = {v.basis for v in judged} == set(range(len(bases)))
    if every_basis_judged and all(v.status == "not_carried" for v in judged):
        reasons = "; ".join(
            f"{v.cited} [{v.fact.mark if v.fact else '?'}]: {v.why}" for v in judged
        )
        out.append(
            (
                f"basis does not carry the measure: {reasons} (rule: a rights-limiting "
                "measure's cited articles must carry its effect for its records)",
                "legal_basis",
                "error",
            )
        )
    return out
