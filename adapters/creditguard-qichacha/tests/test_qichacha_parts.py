"""Plugin registration of the Qichacha adapter.

Date parsing and identifier matching live in the core (``creditguard.agency_dates``,
``creditguard.identifiers``) and are tested in ``tests/test_identifiers.py``.
"""

from __future__ import annotations

from creditguard_qichacha import create_source

from creditguard.plugins import Hooks, build_plugin_manager


def test_plugin_registers_the_source_type() -> None:
    factories = Hooks(build_plugin_manager()).register_sources()
    assert factories["qichacha"] is create_source
