"""The check sees commitment breaches: a measure plugin over the supervision store (notice 893 §§9, 17).

A subject that broke a credit commitment recorded in the supervision store
(``commitment.breached``, :meth:`Lifecycle.report_breach`) gets, at every
later check that finds records with effect, the applied measure
:data:`BREACH_MEASURE_CODE` (违背信用承诺，不适用告知承诺制):

- with effect ``no_commitment`` where the lifecycle pack under which the breach
  was recorded says so (:attr:`LifecyclePack.breach_bars_commitment_approval`,
  true for notice 893). :func:`creditguard.rules.combine` makes it bite only at
  approval-by-commitment steps (``[guard] commitment_steps``, by default
  ``licensing.commitment``): the outcome there is ``review`` and the feedback
  action ``commitment_refused``; at any other step it is listed among the
  decision's ``conditions``, so the breach is visible to every check;
- with effect ``notify`` where a pack says a breach does not bar it;
- a breach whose pack cannot be found any more (the configuration changed) bars
  approval by commitment: the check never reads "cannot say" as "no bar".

Breaches dated after the check's day do not count (replays stay exact). The
store is read on every check that finds records (one indexed SQLite query), so
a breach recorded by another process is seen by the next check; a store that
cannot be read fails the check with :class:`~creditguard.errors.PluginError`.
The hook runs only for subjects with records in effect (see docs/hooks.md), so
a breach of a subject whose listings all ended shows nowhere in a check.

Turn it on with ``[supervision] check = true`` (the guard registers it), or
pass ``plugins=[CommitmentBreaches.from_config(config)]``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date

from creditguard.codes import SubjectCode
from creditguard.config import Config, SupervisionConfig
from creditguard.errors import CreditGuardError
from creditguard.hookspecs import hookimpl
from creditguard.models import AppliedMeasure, EffectiveRecord, LegalBasis, Measure
from creditguard.rules import applied
from creditguard.supervision.packs import LIFECYCLE_PACKS, NOTICE_893, lifecycle_pack_for
from creditguard.supervision.store import SupervisionStore

__all__ = ["BREACH_MEASURE_CODE", "PLUGIN_NAME", "CommitmentBreaches"]

#: The code of the measure a commitment breach adds to a check.
BREACH_MEASURE_CODE = "SV-COMMITMENT-BREACH"
#: The name the guard registers the plugin under.
PLUGIN_NAME = "creditguard-supervision"

_TITLE = "违背信用承诺，不适用告知承诺制"
_NOTIFY_TITLE = "违背信用承诺（记入信用记录）"


def _measure(effect: str, pack_name: str) -> Measure:
    pack = LIFECYCLE_PACKS.get(pack_name) or LIFECYCLE_PACKS[NOTICE_893]
    return Measure(
        code=BREACH_MEASURE_CODE,
        title=_TITLE if effect == "no_commitment" else _NOTIFY_TITLE,
        category="management",
        legal_basis=(
            LegalBasis(
                title=f"《{pack.title.split('（')[0]}》（发改办财金〔2018〕893号）",
                article="第九条、第十七条",
                level="normative_document",
            ),
        ),
        source="supervision",
        applies_to={"list_kinds": ("blacklist", "focus")},
        effect=effect,
    )


class CommitmentBreaches:
    """Measure plugin: the subject's commitment breaches, read from the supervision store."""

    def __init__(
        self,
        store: SupervisionStore,
        config: SupervisionConfig | None = None,
        *,
        owns_store: bool = False,
    ) -> None:
        self.store = store
        self.config = config if config is not None else SupervisionConfig()
        self._owns_store = owns_store
        self._pid = os.getpid()
        self._measures: dict[tuple[str, str], Measure] = {}

    @classmethod
    def from_config(cls, config: Config) -> CommitmentBreaches:
        """The plugin over the configuration's store (``[supervision] path``) and rule packs."""
        from creditguard.supervision.lifecycle import supervision_store_path

        return cls(
            SupervisionStore(supervision_store_path(config)), config.supervision, owns_store=True
        )

    def close(self) -> None:
        """Close the store when this plugin opened it."""
        if self._owns_store:
            self.store.close()

    def _bars(self, region: str, day: str) -> tuple[bool, str]:
        try:
            pack = lifecycle_pack_for(self.config, region, date.fromisoformat(day))
        except (CreditGuardError, ValueError):
            return True, NOTICE_893  # unknown rules: bar rather than guess "no bar"
        return pack.breach_bars_commitment_approval, pack.name

    def _measure(self, effect: str, pack: str) -> Measure:
        m = self._measures.get((effect, pack))
        if m is None:
            m = self._measures[(effect, pack)] = _measure(effect, pack)
        return m

    @hookimpl
    def creditguard_extra_measures(
        self, subject: SubjectCode, as_of: date, records: Sequence[EffectiveRecord]
    ) -> list[AppliedMeasure] | None:
        """The breach measure when the subject broke a commitment on or before ``as_of``."""
        if self._owns_store and os.getpid() != self._pid:
            # A forked worker never uses its parent's connection: its own file handle or socket.
            self.store = self.store.reopen()
            self._pid = os.getpid()
        breaches = [
            (ev, region, day)
            for ev, region, day in self.store.events(
                subject_code=subject.code, until=as_of.isoformat()
            )
            if ev.type == "commitment.breached"
        ]
        if not breaches:
            return None
        verdicts = [self._bars(region, day) for _ev, region, day in breaches]
        barring = [pack for bars, pack in verdicts if bars]
        effect, pack = ("no_commitment", barring[0]) if barring else ("notify", verdicts[0][1])
        broken = {ev.record_id for ev, _r, _d in breaches}
        own = [er for er in records if er.subject_code == subject.code]
        rest_on = [er for er in own if er.record.record_id in broken] or own or list(records)
        return [applied(self._measure(effect, pack), rest_on, origin=f"plugin:{PLUGIN_NAME}")]

    def __repr__(self) -> str:
        return f"CommitmentBreaches({self.store!r})"
