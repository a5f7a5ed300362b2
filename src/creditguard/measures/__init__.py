"""Measure lists: loading, layering, resolution by region and date, validation."""

from __future__ import annotations

from creditguard.measures.catalog import MeasureCatalog, ResolvedList, ResolvedMeasure
from creditguard.measures.loader import load_measure_list

__all__ = ["MeasureCatalog", "ResolvedList", "ResolvedMeasure", "load_measure_list"]
