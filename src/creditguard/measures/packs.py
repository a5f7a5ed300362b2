"""Measure lists contributed by installed measure packs (``creditguard`` entry points)."""

from __future__ import annotations

from collections.abc import Sequence

import pluggy

from creditguard.models import MeasureList
from creditguard.plugins import Hooks, build_plugin_manager

__all__ = ["installed_pack_lists", "lists_from_plugins"]


def lists_from_plugins(pm: pluggy.PluginManager) -> list[MeasureList]:
    """Call ``creditguard_register_measures`` on ``pm``'s plugins and collect the lists."""
    return Hooks(pm).register_measures()


def installed_pack_lists(*, disabled: Sequence[str] | None = None) -> list[MeasureList]:
    """Lists registered by every installed pack (``creditguard`` entry-point group).

    Plugins named in ``disabled`` (default: ``$CREDITGUARD_DISABLE_PLUGINS``,
    comma-separated) are skipped.
    """
    return lists_from_plugins(build_plugin_manager(disabled=disabled))
