"""creditguard: the credit check before a workflow step.

>>> from creditguard import Guard
>>> guard = Guard.from_config("creditguard.toml")          # doctest: +SKIP
>>> guard.check("91320100MA1W2K7D41", step="procurement.bid", region="320100")  # doctest: +SKIP

Heavy parts are imported on first use, so ``import creditguard`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from creditguard.errors import (
    ConfigError,
    CreditGuardError,
    DeadlineExceeded,
    InputError,
    InvalidCodeError,
    InvalidRecordError,
    MeasureListError,
    PluginError,
    RecordsUnavailable,
    SourceError,
    SourceRefused,
    SourceUnavailable,
    StorageError,
    UnknownStepError,
)
from creditguard.hookspecs import hookimpl
from creditguard.masking import install_log_masking

# A safety net under the rule "no full ID number in a log line": creditguard's
# loggers and httpx's request log (which carries URLs) mask ID-number-shaped text.
install_log_masking()

if TYPE_CHECKING:
    from creditguard.case_desk import StepDenied
    from creditguard.codes import SubjectCode, parse_code
    from creditguard.config import Config, config_from_dict, load_config
    from creditguard.guard import AsyncGuard, Guard
    from creditguard.models import (
        AppliedMeasure,
        CreditRecord,
        Decision,
        EffectiveRecord,
        Measure,
        MeasureList,
    )
    from creditguard.screening import ScreenResult

#: The one version source: pyproject.toml reads it (``[tool.setuptools.dynamic]``).
__version__ = "0.1.0"

__all__ = [
    "AppliedMeasure",
    "AsyncGuard",
    "Config",
    "ConfigError",
    "CreditGuardError",
    "CreditRecord",
    "DeadlineExceeded",
    "Decision",
    "EffectiveRecord",
    "Guard",
    "InputError",
    "InvalidCodeError",
    "InvalidRecordError",
    "Measure",
    "MeasureList",
    "MeasureListError",
    "PluginError",
    "RecordsUnavailable",
    "ScreenResult",
    "SourceError",
    "SourceRefused",
    "SourceUnavailable",
    "StepDenied",
    "StorageError",
    "SubjectCode",
    "UnknownStepError",
    "__version__",
    "config_from_dict",
    "hookimpl",
    "load_config",
    "parse_code",
]

_LAZY = {
    "Guard": "creditguard.guard",
    "AsyncGuard": "creditguard.guard",
    "SubjectCode": "creditguard.codes",
    "parse_code": "creditguard.codes",
    "AppliedMeasure": "creditguard.models",
    "CreditRecord": "creditguard.models",
    "Decision": "creditguard.models",
    "EffectiveRecord": "creditguard.models",
    "Measure": "creditguard.models",
    "MeasureList": "creditguard.models",
    "Config": "creditguard.config",
    "config_from_dict": "creditguard.config",
    "load_config": "creditguard.config",
    "ScreenResult": "creditguard.screening",
    "StepDenied": "creditguard.case_desk",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'creditguard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
