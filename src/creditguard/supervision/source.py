"""Record source type ``supervision``: an organisation's listings reach the persons named for them.

Notice 893 §8 holds the legal representative, the principal responsible
person (主要负责人) and other persons held responsible (负有责任的相关人员,
``related_person``) of a listed organisation to account. The mirror links
an organisation to its legal representative only; the supervision store
knows who an identifying department named for a listing
(``responsible_person.named``, :meth:`Lifecycle.name_responsible_person`).
This source answers a person's lookup with ``include_related`` (asked when a
measure of the step has ``extends_to``) with those listings, ``role`` set to
the role the person was named in and ``via`` to the organisation's code, so
a measure with ``extends_to = ["responsible_person"]`` reaches the principal
and the decision names the organisation and the role.

The records are the store's copies (as registered), with the status the
platform last reported through :meth:`Lifecycle.note_platform_status`. When
another source (the platform, a mirror kept from its push feed) returns the
same listing, its status decides (spec §4.0). Without ``include_related``
the source has nothing to add and says so (``found=False``).

A store file that does not exist makes the lookup unavailable (the step's
failure policy decides), never "no record": a misspelt path is not a clean
subject.

```toml
[[sources]]
name = "supervision"
type = "supervision"
# path = "var/supervision.db"   # default <data_dir>/supervision.db, as [supervision] path
#                                # (or the postgresql:// DSN of a PostgreSQL store)
```
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from creditguard.errors import ConfigError, SourceUnavailable, StorageError
from creditguard.journal_pg import is_dsn
from creditguard.models import CreditRecord, StatusChange, SubjectRecords
from creditguard.supervision.store import Listing, SupervisionStore

__all__ = ["SupervisionSource", "supervision_source"]

_ROLES = ("legal_representative", "responsible_person", "related_person")


def _with_platform_status(listing: Listing) -> CreditRecord:
    """The record as registered, with the platform's last reported status (the authority)."""
    rec = listing.record
    status, on = listing.platform_status, listing.platform_status_on
    if status is None or status == rec.status:
        return rec
    update: dict[str, Any] = {"status": status}
    if rec.status_history and on is not None:
        day = date.fromisoformat(on)
        if rec.status_history[-1].on <= day:
            update["status_history"] = (
                *rec.status_history,
                StatusChange(status=status, on=day),
            )
    return rec.model_copy(update=update)


class SupervisionSource:
    """A :class:`~creditguard.sources.LocalSource` over the supervision store (persons named, §8)."""

    speaks_for_platform = False

    def __init__(self, path: str | os.PathLike[str], *, name: str = "supervision") -> None:
        self.name = name
        # A postgresql:// DSN stays a string (a Path would fold its "//"); a file becomes a Path.
        self.path: str | Path = path if isinstance(path, str) and is_dsn(path) else Path(path)
        self._store: SupervisionStore | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        shown = str(self.path) if isinstance(self.path, Path) else "<dsn hidden>"
        return f"SupervisionSource({self.name!r}, {shown!r})"

    def _open(self) -> SupervisionStore:
        with self._lock:
            if self._store is not None and self._pid == os.getpid():
                return self._store
            if isinstance(self.path, Path) and not self.path.exists():
                raise SourceUnavailable(
                    f"supervision store {self.path} does not exist "
                    "(check the source's path against [supervision] path)",
                    source=self.name,
                )
            # A forked child opens its own connection; the parent's stays the parent's.
            self._store, self._pid = SupervisionStore(self.path), os.getpid()
            return self._store

    def lookup(
        self, codes: Sequence[str], *, include_related: bool = False
    ) -> Mapping[str, SubjectRecords]:
        """For persons with ``include_related``: the listings they were named for, by role."""
        if not include_related:
            return {code: SubjectRecords(code=code, found=False) for code in codes}
        try:
            store = self._open()
            out: dict[str, SubjectRecords] = {}
            for code in codes:
                out[code] = self._related(store, code)
            return out
        except StorageError as exc:
            raise SourceUnavailable(str(exc), source=self.name) from exc

    @staticmethod
    def _related(store: SupervisionStore, code: str) -> SubjectRecords:
        # The latest naming of this person for a listing gives the role (a correction wins).
        roles: dict[str, tuple[str, str]] = {}
        for record_id, org, role, _day in store.named_roles(code):
            if role in _ROLES:
                roles[record_id] = (org, role)
        records = []
        for record_id, (org, role) in roles.items():
            listing = store.listing(record_id)
            if listing is None or listing.record.role != "self":
                continue
            rec = _with_platform_status(listing)
            records.append(rec.model_copy(update={"role": role, "via": org}))
        return SubjectRecords(code=code, records=tuple(records), found=bool(records))

    def close(self) -> None:
        """Close the store connection (reopened on the next lookup)."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def supervision_source(
    *,
    name: str,
    path: str | None = None,
    data_dir: str | os.PathLike[str] = ".creditguard",
    base_dir: str | os.PathLike[str] = ".",
    **unknown: Any,
) -> SupervisionSource:
    """Factory of source type ``supervision`` (``path`` defaults to ``<data_dir>/supervision.db``)."""
    if unknown:
        raise ConfigError(
            f"source {name!r} (type supervision): unknown option(s) {', '.join(sorted(unknown))}; "
            "known: path"
        )
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise ConfigError(f"source {name!r} (type supervision): path must be a file name")
    if path is not None and is_dsn(path):
        return SupervisionSource(path, name=name)  # the PostgreSQL store
    if path is None:
        full = Path(data_dir) / "supervision.db"
    else:
        p = Path(path).expanduser()
        full = p if p.is_absolute() else Path(base_dir) / p
    return SupervisionSource(full, name=name)
