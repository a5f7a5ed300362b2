"""Regions and plugin registration of the Tianyancha adapter.

Date parsing and identifier matching live in the core (``creditguard.agency_dates``,
``creditguard.identifiers``) and are tested in ``tests/test_identifiers.py``.
"""

from __future__ import annotations

import pytest
from creditguard_tianyancha import create_source
from creditguard_tianyancha.mapping import region_of

from creditguard.plugins import Hooks, build_plugin_manager


@pytest.mark.parametrize(
    ("areaname", "code"),
    [("北京", "110000"), ("江苏省", "320000"), ("内蒙古自治区", "150000"), ("陕西", "610000"),
     ("山西", "140000"), ("兵团", ""), ("", ""), (None, "")],
)  # fmt: skip
def test_region_from_area_name(areaname: object, code: str) -> None:
    assert region_of(areaname) == code


def test_plugin_registers_the_source_type() -> None:
    factories = Hooks(build_plugin_manager()).register_sources()
    assert factories["tianyancha"] is create_source
