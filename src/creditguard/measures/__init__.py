"""Measure lists: loading, layering, resolution by region and date, validation, tooling.

- :class:`MeasureCatalog` holds installed list versions and resolves the list
  in force for a region on a date (:class:`ResolvedList`).
- :func:`load_measure_list` reads one file, all or nothing.
- :mod:`creditguard.measures.validate` reports every problem of files or
  lists; :mod:`~creditguard.measures.applicability`, :mod:`~creditguard.measures.diff`
  and :mod:`~creditguard.measures.schema` back ``creditguard measures``.
- :func:`installed_pack_lists` collects the lists installed packs register.
"""

from __future__ import annotations

from creditguard.measures.catalog import MeasureCatalog, ResolvedList, ResolvedMeasure
from creditguard.measures.loader import load_measure_list, load_package_lists, parse_measure_list
from creditguard.measures.packs import installed_pack_lists
from creditguard.measures.validate import KNOWN_STEPS, validate_files, validate_lists

__all__ = [
    "KNOWN_STEPS",
    "MeasureCatalog",
    "ResolvedList",
    "ResolvedMeasure",
    "installed_pack_lists",
    "load_measure_list",
    "load_package_lists",
    "parse_measure_list",
    "validate_files",
    "validate_lists",
]
