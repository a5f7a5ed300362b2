"""Fetching the platform's measure lists (spec §5.1) for ``[measures] platform_regions``.

:class:`PlatformLists` asks the platform's channel for each configured
region's list, judges the answer with
:func:`~creditguard.measures.platform_lists.accept_platform_list` and keeps
the last good list on disk (:class:`~creditguard.measures.platform_lists.PlatformListStore`):

- a list whose own fields are invalid is refused and the last good one stays
  in force (``status="refused"``); a measure that fails validation is left
  out and named (``rejected``), the rest of its list is activated;
- a fetch is conditional on the kept list's ETag (a 304 is ``unchanged``),
  except after a ``measure_list.published`` push for the region
  (:meth:`PlatformLists.on_published`), which fetches it afresh;
- the platform failing (timeout, 5xx, 404) is ``unavailable`` and changes
  nothing kept.

Guards load what is kept when they are built
(:func:`~creditguard.measures.installed.build_catalog`); before that, a guard
being built fetches the regions whose kept list is missing or older than
``[measures] platform_refresh_s`` (:func:`fetch_due_lists`), waiting at most
``platform_fetch_timeout_s`` for all of them together: construction stays
fast (nothing is asked while the kept lists are fresh), and a platform that
is slow or down leaves the last good list in force (or the region awaited,
refusing checks, when none was ever kept).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx

from creditguard.errors import MeasureListError, SourceError, SourceUnavailable

if TYPE_CHECKING:
    import pluggy

    from creditguard.channels import ListChannel
    from creditguard.config import Config
    from creditguard.measures.basis import BasisPolicy
    from creditguard.measures.platform_lists import PlatformListStore

__all__ = ["ListFetch", "PlatformLists", "fetch_due_lists", "platform_list_dir"]

log = logging.getLogger("creditguard.measures")

Status = Literal["activated", "unchanged", "refused", "unavailable", "not_configured"]
Trigger = Literal["sync", "push", "start"]


def platform_list_dir(config: Config) -> Path:
    """Where the last good platform lists are kept: ``data_dir/measure-lists``."""
    return config.data_dir / "measure-lists"


@dataclass(frozen=True)
class ListFetch:
    """What fetching one region's list did.

    ``version`` is the version kept (in force for the next guard) after the
    fetch, None when none is kept; ``rejected`` names each measure of the
    fetched list that was not applied; ``error`` says why a list was refused
    or could not be fetched.
    """

    region: str
    status: Status
    #: ``sync`` (creditguard sync), ``push`` (after measure_list.published), ``start`` (a
    #: guard being built fetched a list missing or older than platform_refresh_s)
    trigger: Trigger = "sync"
    version: str | None = None
    rejected: tuple[dict[str, Any], ...] = ()
    error: str | None = None

    @property
    def failed(self) -> bool:
        """True when the platform's list could not be taken (refused or unavailable)."""
        return self.status in ("refused", "unavailable")

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready mapping (``creditguard sync --json``)."""
        return {
            "region": self.region,
            "status": self.status,
            "trigger": self.trigger,
            "version": self.version,
            "rejected": list(self.rejected),
            "error": self.error,
        }


class PlatformLists:
    """Fetches, judges and keeps the lists of the configured regions through a channel."""

    def __init__(
        self,
        channel: ListChannel,
        store: PlatformListStore,
        regions: Iterable[str],
        *,
        policy: BasisPolicy | None = None,
    ) -> None:
        self.channel = channel
        self.store = store
        self.regions = tuple(regions)
        self.policy = policy
        #: regions a ``measure_list.published`` push named since the last refresh
        self.pushed: dict[str, str] = {}
        #: pushes about regions this unit does not take from the platform
        self.ignored: list[ListFetch] = []

    def on_published(self, region: str, version: str) -> None:
        """A ``measure_list.published`` push (``PushFeed(on_measure_list=...)``): fetch it next."""
        if region in self.regions:
            self.pushed[region] = version
            return
        log.info(
            "measure_list.published for region %s ignored: not in [measures] platform_regions",
            region,
        )
        self.ignored.append(ListFetch(region, "not_configured", "push", version or None))

    def refresh(self, client: httpx.Client) -> list[ListFetch]:
        """Fetch every configured region (pushed ones afresh); one failure never stops the rest."""
        out = [
            self.fetch(client, region, trigger="push" if region in self.pushed else "sync")
            for region in self.regions
        ]
        self.pushed.clear()
        out += self.ignored
        self.ignored = []
        return out

    def fetch(
        self, client: httpx.Client, region: str, *, trigger: Literal["sync", "push"] = "sync"
    ) -> ListFetch:
        """Fetch ``region``'s list, activate it when it passes, keep the last good one otherwise."""
        from creditguard.measures.platform_lists import accept_platform_list

        try:
            kept = self.store.load(region)
        except MeasureListError as exc:
            # An unreadable kept list is replaced by a good fetch, never trusted.
            log.warning("platform measure list %s: %s", region, exc)
            kept = None
        before = kept.measure_list.version if kept is not None else None
        # After a push the platform said there is something new: ask without the ETag.
        etag = kept.etag if kept is not None and trigger == "sync" else None
        try:
            request = self.channel.measure_list_request(region, etag=etag)
            try:
                response = client.send(request)
            except httpx.TransportError as exc:
                raise SourceUnavailable(
                    f"measure list {region}: {type(exc).__name__}", source=self.channel.name
                ) from exc
            answer = self.channel.read_measure_list(response)
        except SourceError as exc:
            log.warning("platform measure list %s not fetched: %s", region, exc)
            return ListFetch(region, "unavailable", trigger, before, error=str(exc))
        if answer.not_modified:
            if kept is not None:
                # Confirmed current now: the refresh age counts from here.
                self.store.save(replace(kept, fetched_at=datetime.now().astimezone().isoformat()))
            return ListFetch(region, "unchanged", trigger, before)
        name = f"{self.channel.name} {region}"  # as in "platform measure list jiangsu 320100"
        try:
            accepted = accept_platform_list(
                answer.data, name=name, policy=self.policy, etag=answer.etag
            )
            if accepted.measure_list.region != region:
                raise MeasureListError(
                    f"{name}: the platform answered for region "
                    f"{accepted.measure_list.region}'s list"
                )
        except MeasureListError as exc:
            # Never activated; the last good list stays in force (spec §5.1).
            log.warning(
                "platform measure list %s refused, version %s stays in force: %s", name, before, exc
            )
            return ListFetch(region, "refused", trigger, before, error=str(exc))
        self.store.save(accepted)
        lst = accepted.measure_list
        log.info(
            "platform measure list %s version %s activated (%d measures, %d not applied)",
            region,
            lst.version,
            len(lst.measures),
            len(accepted.rejected),
        )
        rejected = tuple(
            {"measure": p.measure, "field": p.field, "message": p.message}
            for p in accepted.rejected
        )
        return ListFetch(region, "activated", trigger, lst.version, rejected)


def _due(store: PlatformListStore, region: str, max_age_s: float, now: float) -> bool:
    """Whether ``region``'s kept list is missing, unreadable or older than ``max_age_s``."""
    try:
        kept = store.load(region)
    except MeasureListError:
        return True
    if kept is None or not kept.fetched_at:
        return True
    try:
        fetched = datetime.fromisoformat(kept.fetched_at).timestamp()
    except ValueError:
        return True
    return now - fetched > max_age_s


def fetch_due_lists(
    config: Config,
    pm: pluggy.PluginManager | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    now: float | None = None,
) -> list[ListFetch]:
    """Fetch, for a guard being built, each platform region whose kept list is missing or old.

    Bounded by ``[measures] platform_fetch_timeout_s`` for all regions
    together; never raises for the platform's sake: a failure is logged and
    returned (``unavailable`` / ``refused``) and what is kept stays in force.
    No platform channel configured (or ``platform_refresh_s = 0``): nothing
    is fetched and ``creditguard sync`` remains the way lists arrive.
    """
    from creditguard.channels import list_channel, open_channel
    from creditguard.errors import CreditGuardError
    from creditguard.measures.installed import basis_policy
    from creditguard.measures.platform_lists import PlatformListStore

    m = config.measures
    if not m.platform_regions or m.platform_refresh_s == 0:
        return []
    store = PlatformListStore(platform_list_dir(config))
    at = time.time() if now is None else now
    due = [r for r in m.platform_regions if _due(store, r, m.platform_refresh_s, at)]
    if not due:
        return []
    try:
        channel = open_channel(config, pm)
        if channel is None:
            return []
        lists = PlatformLists(list_channel(channel), store, due, policy=basis_policy(config))
    except CreditGuardError as exc:
        log.warning("platform measure lists %s not fetched: %s", ", ".join(due), exc)
        return [ListFetch(r, "unavailable", "start", error=str(exc)) for r in due]
    out: list[ListFetch] = []
    deadline = time.monotonic() + m.platform_fetch_timeout_s
    with httpx.Client(transport=transport, timeout=m.platform_fetch_timeout_s) as client:
        for region in due:
            left = deadline - time.monotonic()
            if left <= 0:
                why = (
                    f"not fetched within platform_fetch_timeout_s ({m.platform_fetch_timeout_s} s)"
                )
                log.warning("platform measure list %s: %s", region, why)
                out.append(ListFetch(region, "unavailable", "start", error=why))
                continue
            client.timeout = httpx.Timeout(left)
            out.append(replace(lists.fetch(client, region), trigger="start"))
    return out
