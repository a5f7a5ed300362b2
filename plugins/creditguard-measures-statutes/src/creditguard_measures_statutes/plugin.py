"""Registers this pack's measure lists with creditguard (entry point ``measures-statutes``)."""

from __future__ import annotations

from collections.abc import Callable

from creditguard.hookspecs import hookimpl
from creditguard.measures import load_package_lists
from creditguard.models import MeasureList

__all__ = ["LISTS", "creditguard_register_measures"]

#: The lists shipped in ``lists/``, loaded (and validated) once at import.
LISTS: tuple[MeasureList, ...] = tuple(
    load_package_lists(__package__ or "creditguard_measures_statutes")
)


@hookimpl
def creditguard_register_measures(register: Callable[[MeasureList], None]) -> None:
    """Register every list of this pack."""
    for measure_list in LISTS:
        register(measure_list)
