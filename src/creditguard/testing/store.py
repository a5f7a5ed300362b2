"""What the reference platform knows, as plain data, and the rules that read it.

:class:`PlatformStore` holds subjects, person–organisation links, records,
measure lists, cases, what units sent (responses, feedback, supervision
events, disclosures), the push feed, idempotency keys, the request log and
seen nonces. Its readers apply spec §4.1 (records of related persons, as
held when listed) and §5.1 (a list's inherited measures). No locking and no
copying here: :class:`~creditguard.testing.state.PlatformState` does both.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from creditguard.testing.auth import SeenNonces

__all__ = ["Link", "LoggedRequest", "PlatformStore"]


@dataclass(frozen=True)
class LoggedRequest:
    """One request the platform received, as a test may want to assert on it.

    ``path`` is relative to the API base (``/v1/cases``); ``body`` is the
    decoded JSON body (``None`` when empty or not JSON); ``status`` is what was
    answered, ``None`` when the connection was dropped by a fault.
    """

    method: str
    path: str
    query: str
    idempotency_key: str | None
    body: Any
    status: int | None
    app_key: str | None = None
    fault: str | None = None


@dataclass(frozen=True)
class Link:
    """A person holding ``role`` in an organisation, from ``since`` to ``until`` (ISO dates)."""

    organization: str
    person: str
    role: str
    since: str | None
    until: str | None


@dataclass
class PlatformStore:
    """The platform's data; callers hold the state's lock."""

    subjects: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    record_owner: dict[str, str] = field(default_factory=dict)
    measure_lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    supervision_events: list[dict[str, Any]] = field(default_factory=list)
    disclosures: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    idempotency: dict[tuple[str, str], tuple[str, Any]] = field(default_factory=dict)
    log: list[LoggedRequest] = field(default_factory=list)
    nonces: SeenNonces = field(default_factory=SeenNonces)

    def put_record(self, code: str, record: dict[str, Any]) -> None:
        """Store a copy of ``record`` for ``code``, replacing one with the same id anywhere."""
        rid = str(record["record_id"])
        old_owner = self.record_owner.get(rid)
        if old_owner is not None:
            self.records[old_owner] = [r for r in self.records[old_owner] if r["record_id"] != rid]
        self.records.setdefault(code, []).append(copy.deepcopy(record))
        self.record_owner[rid] = code

    def records_of(
        self, code: str, *, include_related: bool, see_non_public: bool
    ) -> list[dict[str, Any]]:
        """The records the platform returns for ``code`` (spec §4.1), not copied."""
        own = self.records.get(code, [])
        out = [r for r in own if include_related or r.get("role", "self") == "self"]
        if include_related:
            for link in self.links:
                if link.person != code:
                    continue
                for rec in self.records.get(link.organization, []):
                    if rec.get("role", "self") != "self" or not _held_at(
                        link, rec.get("listed_on")
                    ):
                        continue
                    out.append({**rec, "role": link.role, "via": link.organization})
        return [r for r in out if see_non_public or r.get("public", True)]

    def measure_list_for(self, region: str) -> dict[str, Any] | None:
        """The list in force for ``region`` (a copy): its measures plus inherited ones (spec §5.1)."""
        own = self.measure_lists.get(region)
        if own is None:
            return None
        merged = copy.deepcopy(own)
        parent_code = merged.pop("extends", None)
        withdrawn = {
            w.get("code") for w in merged.pop("withdraws", None) or [] if isinstance(w, dict)
        }
        seen_regions = {region}
        measures = list(merged.get("measures", []))
        codes = {m.get("code") for m in measures if isinstance(m, dict)}
        while isinstance(parent_code, str) and parent_code not in seen_regions:
            seen_regions.add(parent_code)
            parent = self.measure_lists.get(parent_code)
            if parent is None:
                break
            for m in parent.get("measures", []):
                if (
                    isinstance(m, dict)
                    and m.get("code") not in codes
                    and m.get("code") not in withdrawn
                ):
                    measures.append(copy.deepcopy(m))
                    codes.add(m.get("code"))
            withdrawn |= {
                w.get("code") for w in parent.get("withdraws") or [] if isinstance(w, dict)
            }
            parent_code = parent.get("extends")
        merged["measures"] = measures
        return merged


def _held_at(link: Link, listed_on: Any) -> bool:
    if not isinstance(listed_on, str):
        return True
    if link.since is not None and listed_on < link.since:
        return False
    return link.until is None or listed_on <= link.until
