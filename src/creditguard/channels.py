"""Channels: the one seam between core's facts and a platform's wire format.

Core knows outbox items (cases, responses, feedback as domain facts, see
:mod:`creditguard.cases`) and push events (:class:`PushEvent`). A *channel*,
contributed by an adapter through the ``creditguard_register_channels`` hook,
turns them into signed ``httpx.Request`` s and reads the answers:

::

    outbox item ──► channel.delivery_request ──► Deliverer sends ──► channel.read_receipt
    push feed   ──► channel.push_request     ──► PushFeed sends  ──► channel.read_push_page
    webhook POST ─────────────────────────────► channel.receive_push (signature, event)
    sync (lists)──► channel.measure_list_request ─► sync sends ───► channel.read_measure_list

The channel owns no HTTP client (the outbox's deliverer and the push feed
send, with their own timeouts and fork handling) and never sees a store.
A channel is built by its adapter's factory from the configuration entry
that names it (``[outbox] platform``, else the first ``[[sources]]`` entry
whose type has a channel), so core never reads an adapter's options.

Fetching measure lists (spec §5.1) is optional: a channel that can do it
also satisfies :class:`ListChannel`; :func:`list_channel` refuses one that
cannot, naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx

from creditguard.errors import ConfigError, PluginError
from creditguard.models import CreditRecord

if TYPE_CHECKING:
    import pluggy

    from creditguard.config import Config, SourceConfig
    from creditguard.outbox import OutboxItem

__all__ = [
    "KNOWN_EVENT_TYPES",
    "Channel",
    "ChannelFactory",
    "FetchedList",
    "ListChannel",
    "PushEvent",
    "PushPage",
    "ReceivedPush",
    "channel_source",
    "list_channel",
    "open_channel",
    "registered_channels",
]

#: Push event types core applies (spec §7.1); others are skipped and counted.
KNOWN_EVENT_TYPES = frozenset(
    {"record.added", "record.updated", "record.removed", "case.initiated", "measure_list.published"}
)


@dataclass(frozen=True, slots=True)
class PushEvent:
    """One pushed fact, as core applies it.

    ``type`` is one of :data:`KNOWN_EVENT_TYPES` or anything else (skipped).
    A channel that could read the event's id but not its content sets
    ``problem``: the event is counted as rejected, never applied.
    """

    event_id: str
    type: str
    subject_code: str = ""
    record: CreditRecord | None = None
    record_id: str = ""
    case_id: str = ""
    measures: tuple[str, ...] = ()
    region: str = ""
    version: str = ""
    at: str = ""
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (how the webhook inbox stores an event)."""
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "type": self.type,
            "subject_code": self.subject_code,
            "record": None if self.record is None else self.record.model_dump(mode="json"),
            "record_id": self.record_id,
            "case_id": self.case_id,
            "measures": list(self.measures),
            "region": self.region,
            "version": self.version,
            "at": self.at,
            "problem": self.problem,
        }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PushEvent:
        """The event :meth:`to_dict` wrote."""
        record = data.get("record")
        return cls(
            event_id=str(data["event_id"]),
            type=str(data["type"]),
            subject_code=str(data.get("subject_code", "")),
            record=None if record is None else CreditRecord.model_validate(record),
            record_id=str(data.get("record_id", "")),
            case_id=str(data.get("case_id", "")),
            measures=tuple(str(m) for m in data.get("measures", ())),
            region=str(data.get("region", "")),
            version=str(data.get("version", "")),
            at=str(data.get("at", "")),
            problem=data.get("problem"),
        )


@dataclass(frozen=True, slots=True)
class PushPage:
    """One page of a push feed: its events, and the cursor to persist after applying them."""

    events: tuple[PushEvent, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ReceivedPush:
    """A pushed request that passed the channel's signature check.

    ``replay_key`` identifies the request among those the channel would
    accept within ``replay_window_s`` (for §2 platforms: app key and nonce);
    the receiver refuses a key it has seen, across processes.
    """

    event: PushEvent
    replay_key: str
    replay_window_s: float = 900.0
    sender: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Channel(Protocol):
    """What core asks of a platform channel (see the module docstring).

    Every method is free of I/O. ``read_receipt`` and ``read_push_page``
    raise :class:`~creditguard.errors.SourceUnavailable` for what is worth
    retrying (with ``retry_after`` when the platform said when),
    :class:`~creditguard.errors.CaseNotKnownYet` when the platform does not
    know an item's case yet, and :class:`~creditguard.errors.SourceRefused`
    for a refusal (401: ``status=401``; the outbox retries a few times in
    case of clock skew). ``receive_push`` raises
    :class:`~creditguard.errors.SignatureError` for a request that is not
    authentically from the platform and :class:`~creditguard.errors.InputError`
    for a body that is not an event.
    """

    name: str

    def delivery_request(self, item: OutboxItem) -> httpx.Request: ...

    def read_receipt(self, item: OutboxItem, response: httpx.Response) -> str: ...

    def push_request(self, cursor: str | None, *, limit: int) -> httpx.Request: ...

    def read_push_page(self, response: httpx.Response) -> PushPage: ...

    def receive_push(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
    ) -> ReceivedPush: ...


@dataclass(frozen=True, slots=True)
class FetchedList:
    """A measure-list answer: the decoded JSON as sent, or ``not_modified`` after a 304.

    ``data`` is not judged here: core's
    :func:`~creditguard.measures.platform_lists.accept_platform_list` does that,
    measure by measure, so one bad measure never costs the rest of its list.
    """

    data: Any
    etag: str | None = None
    not_modified: bool = False


@runtime_checkable
class ListChannel(Protocol):
    """A channel that can also fetch a region's measure list (spec §5.1), free of I/O.

    ``read_measure_list`` raises :class:`~creditguard.errors.SourceUnavailable`
    (retry later) or :class:`~creditguard.errors.SourceRefused` (e.g. 404: the
    platform has no list for the region) like :meth:`Channel.read_receipt`.
    """

    name: str

    def measure_list_request(self, region: str, *, etag: str | None = None) -> httpx.Request: ...

    def read_measure_list(self, response: httpx.Response) -> FetchedList: ...


def list_channel(channel: object) -> ListChannel:
    """``channel`` as a :class:`ListChannel`, or a :class:`ConfigError` saying it cannot fetch lists."""
    if not isinstance(channel, ListChannel):
        name = getattr(channel, "name", type(channel).__name__)
        raise ConfigError(
            f"channel {name!r} cannot fetch measure lists (it has no measure_list_request/"
            "read_measure_list); remove [measures] platform_regions or use a platform whose "
            "adapter fetches them"
        )
    return channel


#: ``factory(name=..., **options)`` of a configuration entry's options -> a channel.
ChannelFactory = Callable[..., Channel]


def registered_channels(pm: pluggy.PluginManager | None = None) -> dict[str, ChannelFactory]:
    """Channel types by name from every plugin (a fresh plugin manager when none is given)."""
    from creditguard.plugins import Hooks, build_plugin_manager

    return Hooks(pm if pm is not None else build_plugin_manager()).register_channels()


def channel_source(config: Config, types: Mapping[str, ChannelFactory]) -> SourceConfig | None:
    """The configuration entry channels are built from.

    ``[outbox] platform`` names it; else the first ``[[sources]]`` entry whose
    type has a registered channel. None when there is none.
    """
    wanted = config.outbox.platform
    if wanted is not None:
        for sc in config.sources:
            if sc.name == wanted:
                if sc.type not in types:
                    raise ConfigError(
                        f"[outbox] platform = {wanted!r}: no installed plugin provides a channel "
                        f"for source type {sc.type!r} (channel types: {', '.join(sorted(types)) or 'none'})"
                    )
                return sc
        raise ConfigError(f"[outbox] platform = {wanted!r} names no [[sources]] entry")
    return next((sc for sc in config.sources if sc.type in types), None)


def open_channel(config: Config, pm: pluggy.PluginManager | None = None) -> Channel | None:
    """The configured platform's channel, built by its adapter; None when none is configured.

    Raises :class:`~creditguard.errors.ConfigError` (a
    :class:`~creditguard.errors.SecretMissing` for an unset secret) when the
    entry's options do not make a channel.
    """
    types = registered_channels(pm)
    sc = channel_source(config, types)
    if sc is None:
        return None
    channel = types[sc.type](name=sc.name, **sc.options)
    if not isinstance(channel, Channel):
        raise PluginError(
            f"the channel factory of type {sc.type!r} returned a {type(channel).__name__}, "
            "which lacks the Channel methods"
        )
    return channel
