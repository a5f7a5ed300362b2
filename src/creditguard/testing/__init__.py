"""The testing kit: a reference platform, faults, a loopback server and pytest fixtures.

* :class:`ReferencePlatform` implements platform API v1 in memory, checks
  signatures like the real one, and answers ``httpx.MockTransport`` requests
  (``mock_transport()``, ``async_mock_transport()``).
* :class:`Fault` describes what goes wrong: latency, error statuses, 429 with
  ``Retry-After``, garbage and truncated bodies, slow drip, resets, oversize
  bodies, the platform being down.
* :class:`HttpSourceContract` is a base class of contract tests every
  :class:`~creditguard.sources.HttpSource` adapter should pass.
* :func:`serve` runs a platform over real HTTP on loopback
  (``creditguard platform serve`` does the same from the command line).
* :func:`~creditguard.testing.measures.procurement_refusal` is a measure list
  refusing 失信被执行人 at procurement steps, the list most checks need.
* The pytest plugin (:mod:`creditguard.testing.pytest_plugin`) gives
  integrators ``creditguard_platform``, ``creditguard_platform_url`` and
  ``creditguard_guard`` fixtures.

Names are imported on first use, so loading the pytest plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from creditguard.testing.auth import SigningAuth
    from creditguard.testing.contract import HttpSourceContract
    from creditguard.testing.data import load_jsonl, load_measure_files, save_jsonl
    from creditguard.testing.faults import Fault, FaultSchedule, Injection
    from creditguard.testing.measures import procurement_refusal
    from creditguard.testing.reference import ReferencePlatform
    from creditguard.testing.server import RunningServer, serve
    from creditguard.testing.state import DEFAULT_APP_KEY, DEFAULT_SECRET, LoggedRequest

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_SECRET",
    "Fault",
    "FaultSchedule",
    "HttpSourceContract",
    "Injection",
    "LoggedRequest",
    "ReferencePlatform",
    "RunningServer",
    "SigningAuth",
    "load_jsonl",
    "load_measure_files",
    "procurement_refusal",
    "save_jsonl",
    "serve",
]

_WHERE = {
    "DEFAULT_APP_KEY": "state",
    "DEFAULT_SECRET": "state",
    "Fault": "faults",
    "FaultSchedule": "faults",
    "HttpSourceContract": "contract",
    "Injection": "faults",
    "LoggedRequest": "state",
    "ReferencePlatform": "reference",
    "RunningServer": "server",
    "SigningAuth": "auth",
    "load_jsonl": "data",
    "load_measure_files": "data",
    "procurement_refusal": "measures",
    "save_jsonl": "data",
    "serve": "server",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'creditguard.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"creditguard.testing.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
