"""Recording supervision events: one step on one listing, checked, stored and shared.

:class:`EventRecorder` is what every lifecycle step stands on: the listing it
acts on, the rule pack in force, the acting unit's authority, and
:meth:`EventRecorder._emit`, which stores an event and queues it in the
outbox. A step decorated with :func:`one_step_per_listing` holds its listing
(row lock / ``BEGIN IMMEDIATE``) for its checks and events, and the outbox
sees its events only once they committed. The steps themselves live in
:class:`~creditguard.supervision.lifecycle.Lifecycle`.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from creditguard.clock import CST
from creditguard.config import SupervisionConfig
from creditguard.errors import ConfigError, InputError, StorageError
from creditguard.models import CreditRecord
from creditguard.outbox import Outbox, OutboxItem
from creditguard.supervision.errors import RuleBroken, UnknownListing
from creditguard.supervision.events import SupervisionEvent, event_item
from creditguard.supervision.packs import LifecyclePack, lifecycle_pack_for
from creditguard.supervision.store import Listing, SupervisionStore

__all__ = ["EventRecorder", "one_step_per_listing"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S", bound="EventRecorder")


def one_step_per_listing(
    step: Callable[Concatenate[_S, str, _P], _R],
) -> Callable[Concatenate[_S, str, _P], _R]:
    """Run a step holding its listing, so its rule checks and its event are one transaction.

    Two processes recording for the same listing then take turns, and the
    second sees the first's event: once-per-listing rules cannot both pass.
    """

    @functools.wraps(step)
    def held(self: _S, record_id: str, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return self._held(record_id, lambda: step(self, record_id, *args, **kwargs))

    return held


def _now() -> datetime:
    return datetime.now(CST)


class EventRecorder:
    """Records supervision events for one acting unit (``unit_code``) over a store and an outbox."""

    def __init__(
        self,
        store: SupervisionStore,
        outbox: Outbox,
        *,
        unit_code: str,
        config: SupervisionConfig | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if not unit_code:
            raise ConfigError("the supervision lifecycle needs [guard] unit_code (the acting unit)")
        self.store = store
        self.outbox = outbox
        self.unit_code = unit_code
        self.config = config if config is not None else SupervisionConfig()
        self._clock = clock
        self._step = threading.local()  # the events of a held step, shared once it committed

    def close(self) -> None:
        """Close the store and the outbox."""
        self.store.close()
        self.outbox.close()

    def _listing(self, record_id: str) -> Listing:
        listing = self.store.listing(record_id)
        if listing is None:
            raise UnknownListing(
                f"no listing {record_id!r} under supervision: register the record first"
            )
        return listing

    @staticmethod
    def _region(record: CreditRecord) -> str:
        if record.region:
            return record.region
        head = record.authority.code[:6]
        return head if head.isdigit() else ""

    def pack(self, record_id: str, day: date) -> LifecyclePack:
        """The lifecycle pack for the record's region on ``day`` (:class:`NoRuleSetConfigured` if none)."""
        return lifecycle_pack_for(self.config, self._region(self._listing(record_id).record), day)

    def _at(self, at: datetime | None) -> datetime:
        when = self._clock() if at is None else at
        if when.tzinfo is None:
            raise InputError("event time must carry a UTC offset (China Standard Time is +08:00)")
        return when.astimezone(CST)

    def _authority_only(self, listing: Listing, rule: str, pack: str, what: str) -> None:
        authority = listing.record.authority.code
        if not authority:
            raise RuleBroken(
                rule,
                f"record {listing.record.record_id} names no identifying department",
                pack=pack,
            )
        if authority != self.unit_code:
            raise RuleBroken(
                rule,
                f"{what} is for the identifying department {authority} (谁认定、谁约谈), "
                f"not for unit {self.unit_code}",
                pack=pack,
            )

    def _events(self, record_id: str, *types: str) -> list[SupervisionEvent]:
        return [
            ev
            for ev, _, _ in self.store.events(record_id=record_id)
            if not types or ev.type in types
        ]

    def _emit(
        self, listing: Listing, type_: str, data: Mapping[str, Any], when: datetime
    ) -> SupervisionEvent:
        event = SupervisionEvent(
            event_id=f"{self.unit_code}-{when:%Y}-{uuid.uuid4().hex[:16]}",
            type=type_,
            subject_code=listing.subject_code,
            record_id=listing.record.record_id,
            unit_code=self.unit_code,
            at=when.isoformat(timespec="seconds"),
            data=dict(data),
        )
        item = event_item(event)
        self.store.add_event(
            event,
            region=self._region(listing.record),
            day=when.date().isoformat(),
            outbox_key=item.key,
        )
        pending: list[tuple[SupervisionEvent, OutboxItem]] | None = getattr(
            self._step, "pending", None
        )
        if pending is not None:
            pending.append((event, item))  # queued once the step's transaction committed
        else:
            self._share([(event, item)])
        return event

    def _share(self, emitted: Sequence[tuple[SupervisionEvent, OutboxItem]]) -> None:
        """Queue stored events for the platform, all or none; events the outbox refused are unstored."""
        if not emitted:
            return
        try:
            self.outbox.enqueue_many([item for _ev, item in emitted])
        except Exception as exc:
            for ev, _item in emitted:
                self.store.remove_event(ev.event_id)
            if isinstance(exc, StorageError):
                raise
            ids = ", ".join(ev.event_id for ev, _item in emitted)
            raise StorageError(f"the outbox could not take event {ids}: {exc}") from exc

    def _held(self, record_id: str, run: Callable[[], _R]) -> _R:
        """``run()`` holding the listing: its checks and events one transaction, then shared.

        A step that fails undoes every event it stored (a refused interview
        leaves no overdue mark either); the outbox only sees committed events.
        """
        if getattr(self._step, "pending", None) is not None:  # already inside a held step
            return run()
        self._step.pending = []
        try:
            with self.store.listing_lock(record_id):
                out = run()
            emitted = self._step.pending
        finally:
            self._step.pending = None
        self._share(emitted)
        return out
