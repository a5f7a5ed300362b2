"""Measure lists contributed by installed measure packs (``creditguard`` entry points)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

from creditguard import hookspecs
from creditguard.errors import MeasureListError, PluginError
from creditguard.models import MeasureList

__all__ = ["installed_pack_lists", "lists_from_plugins"]

_DISABLE_ENV = "CREDITGUARD_DISABLE_PLUGINS"  # same variable as creditguard.plugins.DISABLE_ENV


def lists_from_plugins(pm: pluggy.PluginManager) -> list[MeasureList]:
    """Call ``creditguard_register_measures`` on ``pm``'s plugins and collect the lists."""
    lists: list[MeasureList] = []

    def register(measure_list: MeasureList | Mapping[str, Any]) -> None:
        if isinstance(measure_list, MeasureList):
            lists.append(measure_list)
        elif isinstance(measure_list, Mapping):
            from creditguard.measures.loader import validate_data

            lists.append(validate_data(dict(measure_list), name="<registered list>"))
        else:
            raise MeasureListError(
                f"register() takes a MeasureList, got {type(measure_list).__name__}"
            )

    pm.hook.creditguard_register_measures(register=register)
    return lists


def installed_pack_lists(*, disabled: Sequence[str] | None = None) -> list[MeasureList]:
    """Lists registered by every installed pack (``creditguard`` entry-point group).

    Plugins named in ``disabled`` (default: ``$CREDITGUARD_DISABLE_PLUGINS``,
    comma-separated) are skipped. Built-in defaults are not loaded: only
    what installed distributions contribute.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if disabled is None:
        disabled = [n.strip() for n in os.environ.get(_DISABLE_ENV, "").split(",") if n.strip()]
    for name in disabled:
        pm.set_blocked(name)
    try:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    except Exception as exc:  # an entry point that fails to import
        raise PluginError(f"a creditguard plugin failed to load: {exc}") from exc
    return lists_from_plugins(pm)
