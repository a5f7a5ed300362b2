"""The hooks a creditguard plugin may implement.

Plugins are found through the ``creditguard`` entry-point group (or passed to
a guard directly) and implement any of these with ``@creditguard.hookimpl``.
The guard calls them only through :mod:`creditguard.plugins`, which turns the
results into typed values.

Registration hooks (called once, when a guard is built):

- :func:`creditguard_register_sources` — contribute record-source types
  (local mirror, platform over HTTP, agencies) that configuration can name.
- :func:`creditguard_register_measures` — contribute measure lists (packs).
- :func:`creditguard_register_channels` — contribute platform channels: how
  cases and feedback are delivered, the push feed read and pushes verified.

Decision hooks (called on every check):

- :func:`creditguard_extra_measures` — collect-all: conditional measures that
  data alone cannot express. Results are combined by a pure function in which
  the most severe effect wins, so plugin order never changes an outcome.

Observer hooks (called after the fact; return values are ignored and errors
are logged, never raised, so they cannot change an outcome):

- :func:`creditguard_decision_made` — every decision, for audit and metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from creditguard.codes import SubjectCode
    from creditguard.models import AppliedMeasure, Decision, EffectiveRecord, MeasureList

#: The pluggy project name, also the entry-point group plugins are found in.
PROJECT = "creditguard"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "hookimpl", "hookspec"]


@hookspec
def creditguard_register_sources(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register record-source types by calling ``register(type_name, factory)``.

    ``factory(name=..., **options)`` is called with the options of a
    ``[[sources]]`` table of the configuration whose ``type`` is
    ``type_name`` and returns a record source (see :mod:`creditguard.sources`).
    Built-in types (``mirror``) are registered last, so a plugin can replace
    them by registering the same type name.
    """


@hookspec
def creditguard_register_channels(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register platform channel types by calling ``register(type_name, factory)``.

    ``factory(name=..., **options)`` is called with the options of the
    ``[[sources]]`` entry the outbox delivers to (``[outbox] platform``, else
    the first entry whose ``type`` is a registered channel type) and returns a
    :class:`creditguard.channels.Channel`: it turns outbox items into signed
    requests, reads receipts and the push feed, and verifies webhook pushes.
    The options are the source's too, so a factory ignores the ones only its
    source uses. The first registration of a type name wins.
    """


@hookspec
def creditguard_register_measures(register: Callable[[MeasureList], None]) -> None:
    """Register measure lists (a measure pack) by calling ``register(measure_list)``.

    Lists are validated when registered; an invalid list fails the guard's
    construction with :class:`~creditguard.errors.MeasureListError`.
    """


@hookspec
def creditguard_extra_measures(
    subject: SubjectCode,
    step: str,
    region: str,
    as_of: date,
    records: tuple[EffectiveRecord, ...],
    context: Mapping[str, Any],
) -> Iterable[AppliedMeasure] | None:
    """Return conditional measures that apply to this subject at this step.

    Called for every check (collect-all: every implementation is called), also when
    ``records`` is empty: a measure may rest on facts other than a listing, such as a
    commitment the subject broke (``creditguard.supervision``). Use :func:`creditguard.rules.applied`
    to build the results from a :class:`~creditguard.models.Measure` and the
    records it rests on. Return ``None`` or an empty iterable when nothing
    applies. Must be fast and must not do I/O: it runs on the check's hot path.
    """


@hookspec
def creditguard_decision_made(decision: Decision, context: Mapping[str, Any]) -> None:
    """Observe a decision after it was made (audit, metrics).

    The decision is frozen and the return value is ignored; an exception is
    logged and swallowed, so an observer can never change or block an outcome.
    """
