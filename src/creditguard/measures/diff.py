"""Field-by-field differences between two versions of a measure list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditguard.models import Measure, MeasureList

__all__ = ["FieldChange", "ListDiff", "MeasureChange", "diff_lists"]

_HEAD_FIELDS = ("region", "version", "issued_by", "published_on", "effective_from", "extends")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs: ``field`` is a dotted path (``applies_to.steps``)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class MeasureChange:
    """A measure added, removed or changed (``kind``), with its field changes."""

    code: str
    kind: str
    changes: tuple[FieldChange, ...] = ()
    old: Measure | None = None
    new: Measure | None = None


@dataclass(frozen=True, slots=True)
class ListDiff:
    """What changed between two list versions."""

    head: tuple[FieldChange, ...]
    measures: tuple[MeasureChange, ...]
    withdrawals: tuple[FieldChange, ...]

    @property
    def empty(self) -> bool:
        """True when the versions are the same in every field."""
        return not (self.head or self.measures or self.withdrawals)


def _flat(m: Measure) -> dict[str, Any]:
    data = m.model_dump(mode="json")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "applies_to":
            for sub, v in value.items():
                out[f"applies_to.{sub}"] = v
        elif key == "legal_basis":
            # Bases compared as text plus level: the way an officer reads them.
            out[key] = [
                f"{b['title']}{b['article']}" + (f" ({b['level']})" if b.get("level") else "")
                for b in value
            ]
        else:
            out[key] = value
    return out


def diff_lists(old: MeasureList, new: MeasureList) -> ListDiff:
    """Added, removed and changed measures, field by field; header and withdrawal changes too."""
    head = tuple(
        FieldChange(f, _json(getattr(old, f)), _json(getattr(new, f)))
        for f in _HEAD_FIELDS
        if getattr(old, f) != getattr(new, f)
    )
    olds = {m.code: m for m in old.measures}
    news = {m.code: m for m in new.measures}
    changes: list[MeasureChange] = []
    for code in sorted(olds.keys() | news.keys()):
        a, b = olds.get(code), news.get(code)
        if a is None and b is not None:
            changes.append(MeasureChange(code, "added", new=b))
        elif b is None and a is not None:
            changes.append(MeasureChange(code, "removed", old=a))
        elif a is not None and b is not None and a != b:
            fa, fb = _flat(a), _flat(b)
            fields = tuple(
                FieldChange(k, fa.get(k), fb.get(k))
                for k in fa.keys() | fb.keys()
                if fa.get(k) != fb.get(k)
            )
            changes.append(
                MeasureChange(code, "changed", tuple(sorted(fields, key=lambda c: c.field)), a, b)
            )
    wo = {w.code: w.reason for w in old.withdraws}
    wn = {w.code: w.reason for w in new.withdraws}
    withdrawals = tuple(
        FieldChange(code, wo.get(code), wn.get(code))
        for code in sorted(wo.keys() | wn.keys())
        if wo.get(code) != wn.get(code)
    )
    return ListDiff(head, tuple(changes), withdrawals)


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
