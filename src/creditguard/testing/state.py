"""What the reference platform knows, and the convenience API tests use to set it up.

The data itself and the rules reading it are
:class:`~creditguard.testing.store.PlatformStore`; here it sits behind one
re-entrant lock, so server threads and the test thread can read and change it
at the same time. Everything handed out is a copy: a test cannot change the
platform by editing a returned dict.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from creditguard.clock import CST  # the platform's dates and times are CST (spec §1)
from creditguard.testing.store import Link, LoggedRequest, PlatformStore

__all__ = [
    "CST",
    "DEFAULT_APP_KEY",
    "DEFAULT_SECRET",
    "LoggedRequest",
    "PlatformState",
    "check_code",
]

DEFAULT_APP_KEY = "test-key"
#: A published test credential, deliberately not secret.
DEFAULT_SECRET = "test-secret"

_USCC_CHARS = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")
_LIST_NAMES = {
    ("blacklist", "court_enforcement"): "失信被执行人名单",
    ("blacklist", "tax"): "重大税收违法失信主体名单",
    ("blacklist", "procurement"): "政府采购严重违法失信行为记录名单",
    ("blacklist", "market_regulation"): "严重违法失信名单",
}


def check_code(text: str) -> tuple[str, str]:
    """Normalise and validate a subject code; return ``(code, kind)`` or raise ``ValueError``.

    Uses :func:`creditguard.codes.parse_code` when it is importable, else a
    length and character-set check (kind guessed from the shape).
    """
    try:
        from creditguard.codes import parse_code
    except ImportError:  # the codes module may be absent in a trimmed install
        return _check_code_light(text)
    from creditguard.errors import InvalidCodeError

    try:
        sc = parse_code(text)
    except InvalidCodeError as exc:
        raise ValueError(str(exc)) from None
    return sc.code, sc.kind


def _check_code_light(text: str) -> tuple[str, str]:
    code = text.strip().replace(" ", "").replace("-", "").upper()
    if len(code) != 18:
        raise ValueError(f"expected 18 characters, got {len(code)}")
    if (
        code[:17].isdigit()
        and code[6:8] in ("19", "20")
        and (code[17].isdigit() or code[17] == "X")
    ):
        return code, "person"
    for i, ch in enumerate(code, start=1):
        if ch not in _USCC_CHARS:
            raise ValueError(f"character {ch!r} not allowed at position {i}")
    return code, "organization"


def _iso(value: date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


class PlatformState:
    """The platform's data plus the set-up API for tests (no HTTP here)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.app_keys: dict[str, str] = {DEFAULT_APP_KEY: DEFAULT_SECRET}
        #: app keys allowed to read non-public records (spec §4 ``public``)
        self.private_readers: set[str] = {DEFAULT_APP_KEY}
        self._store = PlatformStore()
        self._ids = itertools.count(1)

    # --- time and ids ----------------------------------------------------------------

    def now(self) -> datetime:
        """The platform's clock, in China Standard Time."""
        return datetime.fromtimestamp(self.clock(), CST)

    def today(self) -> date:
        """Today in China Standard Time."""
        return self.now().date()

    def now_text(self) -> str:
        """Now as RFC 3339 with offset, to the second."""
        return self.now().isoformat(timespec="seconds")

    def next_id(self, prefix: str) -> str:
        """A fresh id such as ``R-000042`` (unique within this platform)."""
        return f"{prefix}-{next(self._ids):06d}"

    # --- keys ------------------------------------------------------------------------

    def add_app_key(self, app_key: str, secret: str, *, see_non_public: bool = False) -> None:
        """Accept requests signed with ``app_key``/``secret``."""
        with self.lock:
            self.app_keys[app_key] = secret
            if see_non_public:
                self.private_readers.add(app_key)
            else:
                self.private_readers.discard(app_key)

    # --- subjects and records ----------------------------------------------------------

    def add_subject(
        self,
        code: str,
        *,
        kind: str | None = None,
        name: str | None = None,
        legal_representative: str | Mapping[str, Any] | None = None,
        responsible_person: str | Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add or update a subject; linked persons become subjects too. Returns the subject."""
        norm, guessed = check_code(code)
        with self.lock:
            subject = self._store.subjects.setdefault(norm, {"code": norm, "kind": kind or guessed})
            if kind:
                subject["kind"] = kind
            if name is not None:
                subject["name"] = name
            elif "name" not in subject and subject["kind"] == "organization":
                subject["name"] = f"测试单位{norm[-6:]}有限公司"
            subject.update(fields)
            for role, person in (
                ("legal_representative", legal_representative),
                ("responsible_person", responsible_person),
            ):
                if person is None:
                    continue
                info = {"code": person} if isinstance(person, str) else dict(person)
                if info.get("code"):
                    info["code"] = self.add_subject(str(info["code"]), name=info.get("name"))[
                        "code"
                    ]
                    self.relate(info["code"], norm, role=role)
                if role == "legal_representative":
                    subject["legal_representative"] = info
            return copy.deepcopy(subject)

    def relate(
        self,
        person_code: str,
        organization_code: str,
        *,
        role: str = "legal_representative",
        since: date | str | None = None,
        until: date | str | None = None,
    ) -> None:
        """Record that a person held ``role`` in an organization (from ``since`` to ``until``).

        ``include_related`` (spec §4.1) returns the organization's records
        listed while the person held the role.
        """
        person, _ = check_code(person_code)
        org, _ = check_code(organization_code)
        with self.lock:
            for known in (person, org):
                if known not in self._store.subjects:
                    self.add_subject(known)
            link = Link(org, person, role, _iso(since), _iso(until))
            if link not in self._store.links:
                self._store.links.append(link)

    def add_record(
        self,
        code: str,
        *,
        list_kind: str = "blacklist",
        domain: str = "other",
        status: str = "listed",
        listed_on: date | str | None = None,
        expires_on: date | str | None = None,
        public: bool = True,
        role: str = "self",
        push: bool = False,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add a record to a subject (created if unknown) and return it.

        Unnamed fields get sensible defaults: a fresh ``record_id``, the usual
        list name for the list kind and domain, ``listed_on`` 30 days ago,
        the region from the code. ``push=True`` also emits ``record.added``.
        """
        norm, kind = check_code(code)
        region = norm[2:8] if kind == "organization" else norm[:6]
        listed = _iso(listed_on) or (self.today() - timedelta(days=30)).isoformat()
        record: dict[str, Any] = {
            "record_id": fields.pop("record_id", None) or self.next_id("T"),
            "list_kind": list_kind,
            "domain": domain,
            "list_name": _LIST_NAMES.get(
                (list_kind, domain),
                "严重失信主体名单" if list_kind == "blacklist" else "重点关注名单",
            ),
            "authority": {"code": f"{region}-XX", "name": "测试认定部门"},
            "basis": "测试决〔2026〕1号",
            "listed_on": listed,
            "expires_on": _iso(expires_on),
            "rectify_by": None,
            "status": status,
            "public": public,
            "region": region,
            "role": role,
        }
        record.update({k: _iso(v) if isinstance(v, date) else v for k, v in fields.items()})
        with self.lock:
            if norm not in self._store.subjects:
                self.add_subject(norm)
            self._store.put_record(norm, record)
            if push:
                self.push_event("record.added", subject_code=norm, record=record)
        return copy.deepcopy(record)

    def put_raw_record(self, code: str, record: Mapping[str, Any]) -> None:
        """Store a record exactly as given (loaded data); replaces one with the same id."""
        norm, _ = check_code(code)
        with self.lock:
            if norm not in self._store.subjects:
                self.add_subject(norm)
            self._store.put_record(norm, dict(record))

    def update_record(
        self, record_id: str, *, push: bool = False, **changes: Any
    ) -> dict[str, Any]:
        """Change fields of a record (e.g. ``status="repaired"``); ``push`` emits ``record.updated``."""
        with self.lock:
            owner = self._store.record_owner.get(record_id)
            if owner is None:
                raise KeyError(f"no record {record_id}")
            for rec in self._store.records[owner]:
                if rec["record_id"] == record_id:
                    rec.update(
                        {k: _iso(v) if isinstance(v, date) else v for k, v in changes.items()}
                    )
                    if push:
                        self.push_event("record.updated", subject_code=owner, record=rec)
                    return copy.deepcopy(rec)
        raise KeyError(f"no record {record_id}")  # pragma: no cover - owner index is consistent

    def remove_record(self, record_id: str, *, push: bool = False) -> None:
        """Delete a record; ``push`` emits ``record.removed``."""
        with self.lock:
            owner = self._store.record_owner.pop(record_id, None)
            if owner is None:
                raise KeyError(f"no record {record_id}")
            self._store.records[owner] = [
                r for r in self._store.records[owner] if r["record_id"] != record_id
            ]
            if push:
                self.push_event("record.removed", subject_code=owner, record_id=record_id)

    def subject(self, code: str) -> dict[str, Any] | None:
        """The subject known under ``code`` (normalised), or None."""
        with self.lock:
            found = self._store.subjects.get(code)
            return copy.deepcopy(found) if found is not None else None

    def records_of(
        self, code: str, *, include_related: bool = False, see_non_public: bool = True
    ) -> list[dict[str, Any]]:
        """The records the platform returns for ``code`` (spec §4.1 semantics)."""
        with self.lock:
            return copy.deepcopy(
                self._store.records_of(
                    code, include_related=include_related, see_non_public=see_non_public
                )
            )

    def all_records(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every ``(subject, record)`` pair, for saving."""
        with self.lock:
            return [
                (copy.deepcopy(self._store.subjects[code]), copy.deepcopy(rec))
                for code, recs in self._store.records.items()
                for rec in recs
            ]

    def find_record(self, record_id: str) -> dict[str, Any] | None:
        """The record with ``record_id``, or None."""
        with self.lock:
            owner = self._store.record_owner.get(record_id)
            for rec in self._store.records.get(owner or "", []):
                if rec["record_id"] == record_id:
                    return copy.deepcopy(rec)
            return None

    # --- measure lists -----------------------------------------------------------------

    def set_measure_list(self, measure_list: Any) -> dict[str, Any]:
        """Serve a measure list: a :class:`~creditguard.models.MeasureList` or a spec §5.1 dict.

        Dicts are stored as given (so tests can serve invalid lists); a
        model's ``extends`` parent measures are merged when the parent is set.
        """
        if hasattr(measure_list, "model_dump"):
            data: dict[str, Any] = measure_list.model_dump(mode="json")
        elif isinstance(measure_list, Mapping):
            data = copy.deepcopy(dict(measure_list))
        else:
            raise TypeError("set_measure_list takes a MeasureList or a dict")
        region = data.get("region")
        if not isinstance(region, str):
            raise ValueError("a measure list needs a region")
        with self.lock:
            self._store.measure_lists[region] = data
        return copy.deepcopy(data)

    def measure_list_for(self, region: str) -> dict[str, Any] | None:
        """The list in force for ``region``: its own measures plus inherited ones (spec §5.1)."""
        with self.lock:
            return self._store.measure_list_for(region)

    # --- push feed and cases -----------------------------------------------------------

    def push_event(self, type: str, **fields: Any) -> dict[str, Any]:
        """Append an event to the push feed (spec §7.1); ``event_id`` and ``at`` are filled in."""
        with self.lock:
            number = len(self._store.events) + 1
            event = {
                "event_id": f"E-{number:06d}",
                "type": type,
                "at": self.now_text(),
                **copy.deepcopy(fields),
            }
            self._store.events.append(event)
            return copy.deepcopy(event)

    def events_after(self, position: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` events after the ``position``-th one."""
        with self.lock:
            return copy.deepcopy(self._store.events[position : position + limit])

    def initiate_case(
        self,
        subject_code: str,
        measures: Sequence[str],
        *,
        region: str = "000000",
        case_id: str | None = None,
    ) -> dict[str, Any]:
        """Open a platform-initiated case (``P-...``) and push ``case.initiated`` for it."""
        norm, _ = check_code(subject_code)
        with self.lock:
            cid = case_id or self.next_id("P")
            case = {
                "case_id": cid,
                "subject_code": norm,
                "measures": list(measures),
                "region": region,
                "origin": "platform",
            }
            self._store.cases[cid] = case
            self.push_event(
                "case.initiated",
                case_id=cid,
                subject_code=norm,
                measures=list(measures),
                region=region,
            )
            return copy.deepcopy(case)

    @property
    def cases(self) -> dict[str, dict[str, Any]]:
        """Cases by id (unit-initiated ones hold the request body, plus ``origin``)."""
        with self.lock:
            return copy.deepcopy(self._store.cases)

    @property
    def responses(self) -> list[dict[str, Any]]:
        """Case responses received (each with its ``case_id``)."""
        with self.lock:
            return copy.deepcopy(self._store.responses)

    @property
    def feedback(self) -> list[dict[str, Any]]:
        """Case feedback received (each with its ``case_id`` and ``subject_code``)."""
        with self.lock:
            return copy.deepcopy(self._store.feedback)

    @property
    def supervision_events(self) -> list[dict[str, Any]]:
        """Supervision events received (spec §10)."""
        with self.lock:
            return copy.deepcopy(self._store.supervision_events)

    @property
    def disclosures(self) -> list[dict[str, Any]]:
        """Disclosures received (spec §11)."""
        with self.lock:
            return copy.deepcopy(self._store.disclosures)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The push feed so far."""
        with self.lock:
            return copy.deepcopy(self._store.events)

    def feedback_for(self, code: str) -> list[dict[str, Any]]:
        """Feedback about cases of the subject ``code``, in arrival order."""
        norm, _ = check_code(code)
        with self.lock:
            return copy.deepcopy([f for f in self._store.feedback if f.get("subject_code") == norm])

    @property
    def requests_log(self) -> list[LoggedRequest]:
        """Every request received so far, oldest first."""
        with self.lock:
            return list(self._store.log)

    def reset(self) -> None:
        """Forget all data, requests and nonces (keys and settings stay)."""
        with self.lock:
            self._store = PlatformStore()

    # --- used by the request handling ------------------------------------------------

    @property
    def store(self) -> PlatformStore:
        """The raw store; callers must hold ``lock``."""
        return self._store
