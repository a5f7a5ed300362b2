"""Measure lists published by the platform (spec §5.1): accept measure by measure, keep the last good.

The rules of spec §5.1 as it now reads:

- a list whose own fields (``region``, ``version``, ``effective_from``) are
  missing or invalid is never activated (:class:`MeasureListError`);
- a measure that fails validation is never applied, while the rest of its
  list is; each failure is kept with the list (:attr:`Accepted.rejected`) so
  ``creditguard measures show``, the decision's provenance and a log line can
  say so;
- unknown fields are ignored (the wire allows them; an agency's own *file* is
  validated strictly elsewhere, where any error blocks the file);
- ``standing`` (not a spec field) is kept when the list carries it
  (``official``, ``compilation``, ``example``), so a republished compilation
  never reads as official; absent, the list is official; any other value
  keeps the list from being activated;
- a string-form basis is judged against the instruments table: unknown means
  the measure cannot carry a rights-limiting effect, which is reported, not
  guessed.

:class:`PlatformListStore` keeps the last good list of each region on disk so
a restart, or a platform outage, leaves the version in force known. Fetching
goes through the platform's channel
(:class:`~creditguard.channels.ListChannel`), driven by
:mod:`creditguard.measures.platform_sync` for ``[measures] platform_regions``;
this module judges and stores what it returns.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from creditguard.errors import MeasureListError, Problem
from creditguard.measures._common import errors_of
from creditguard.measures.basis import BasisPolicy
from creditguard.measures.shape import check_data
from creditguard.models import Measure, MeasureList

__all__ = ["Accepted", "PlatformListStore", "accept_platform_list"]

log = logging.getLogger("creditguard.measures")

# ``standing`` is not a field of spec §5.1, but a list that carries it is read with it: a
# platform may republish a compilation or an example, and dropping the word would make
# it read as official. Absent, the list is the platform's own (official); an unreadable
# value is an invalid list field, so the list is not activated (never guessed official).
_HEAD = (
    "region",
    "version",
    "issued_by",
    "standing",
    "published_on",
    "effective_from",
    "extends",
    "withdraws",
)
_REQUIRED = ("region", "version", "effective_from")


@dataclass(frozen=True)
class Accepted:
    """A platform list as activated: the measures that passed, and each one refused with why."""

    measure_list: MeasureList
    rejected: tuple[Problem, ...] = ()
    etag: str | None = None
    fetched_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def accept_platform_list(
    data: Any, *, name: str, policy: BasisPolicy | None = None, etag: str | None = None
) -> Accepted:
    """Judge one list as the platform sent it (decoded JSON); see the module docstring."""
    if not isinstance(data, dict):
        raise MeasureListError([Problem("a measure list must be a JSON object", file=name)])
    head = {k: data[k] for k in _HEAD if k in data}
    missing = [k for k in _REQUIRED if head.get(k) in (None, "")]
    problems = [
        Problem("required field is missing: the list is not activated", file=name, field=k)
        for k in missing
    ]
    checked = check_data({**head, "measures": []}, name=name, policy=policy)
    problems += [p for p in errors_of(checked.problems) if p.measure is None or p.field]
    if problems or checked.measure_list is None:
        raise MeasureListError(problems or checked.problems)
    raw = data.get("measures")
    if not isinstance(raw, list):
        raise MeasureListError(
            [
                Problem(
                    "measures must be an array: the list is not activated",
                    file=name,
                    field="measures",
                )
            ]
        )
    fields = set(Measure.model_fields)
    kept: list[Measure] = []
    rejected: list[Problem] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        # Unknown measure fields are ignored on the wire (spec §5.1).
        one = {k: v for k, v in item.items() if k in fields} if isinstance(item, dict) else item
        alone = check_data({**head, "measures": [one]}, name=name, policy=policy)
        errors = [p for p in errors_of(alone.problems) if p.measure is not None or p.field]
        code = one.get("code") if isinstance(one, dict) else None
        if not errors and isinstance(code, str) and code in seen:
            errors = [Problem("duplicate code", file=name, measure=code, field="code")]
        if errors or alone.measure_list is None:
            for p in errors or [Problem("invalid measure", file=name, field=f"measures.{i}")]:
                rejected.append(p)
                log.warning("platform measure list %s: measure not applied: %s", name, p)
            continue
        seen.add(alone.measure_list.measures[0].code)
        kept.append(alone.measure_list.measures[0])
    lst = checked.measure_list.model_copy(update={"measures": tuple(kept)})
    return Accepted(lst, tuple(rejected), etag, datetime.now().astimezone().isoformat())


class PlatformListStore:
    """The last good platform list of each region, one JSON file per region (0600)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def _path(self, region: str) -> Path:
        if not (len(region) == 6 and region.isdigit()):
            raise MeasureListError(f"region code {region!r} is not 6 digits")
        return self.folder / f"{region}.json"

    def save(self, accepted: Accepted) -> None:
        """Write atomically: a crash leaves the previous good list, never half a file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        lst = accepted.measure_list
        body = {
            "list": lst.model_dump(mode="json"),
            "etag": accepted.etag,
            "fetched_at": accepted.fetched_at,
            "rejected": [
                {"measure": p.measure, "field": p.field, "message": p.message}
                for p in accepted.rejected
            ],
        }
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(body, fh, ensure_ascii=False, indent=1)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self._path(lst.region))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, region: str) -> Accepted | None:
        """The last good list of ``region``, or ``None`` when none was ever kept."""
        path = self._path(region)
        if not path.exists():
            return None
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            lst = MeasureList.model_validate(body["list"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MeasureListError(
                f"{path}: the kept platform list cannot be read: {exc}"
            ) from None
        rejected = tuple(
            Problem(r["message"], file=str(path), measure=r.get("measure"), field=r.get("field"))
            for r in body.get("rejected", [])
        )
        return Accepted(lst, rejected, body.get("etag"), body.get("fetched_at"))

    def regions(self) -> list[str]:
        """Regions with a kept list."""
        if not self.folder.exists():
            return []
        return sorted(p.stem for p in self.folder.glob("[0-9]*.json"))
