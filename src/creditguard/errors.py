"""The exceptions creditguard raises, grouped by what the caller can do.

::

    CreditGuardError
    ├── InputError (ValueError)          bad input from the caller; nothing was changed
    │   ├── InvalidCodeError             a subject code failed normalisation or its checksum
    │   ├── InvalidRecordError           a credit record (file line or payload) is malformed
    │   ├── UnknownStepError             a step outside the vocabulary (spec §8 + [guard] steps)
    │   └── MeasureListError             a measure-list file is malformed or fails validation
    ├── ConfigError                      the configuration file or arguments are wrong
    │   └── SecretMissing                a secret the configuration names is unset or empty
    ├── PluginError                      a plugin is broken (misspelt hook, bad registration)
    ├── SourceError                      a record source or the platform failed
    │   ├── SourceUnavailable            temporary: timeout, 5xx, 429, circuit open; retry later
    │   │   └── DeadlineExceeded         the check's overall deadline ran out
    │   └── SourceRefused                permanent: the source refused the request (4xx)
    │       └── CaseNotKnownYet          the platform has not received the case's initiation yet
    ├── SignatureError                   a signed request (webhook push) failed verification
    ├── RecordsUnavailable               records could not be obtained and the step's policy is "raise"
    └── StorageError                     a local store (mirror, journal, outbox) could not be written

Every message says what was wrong and where: file and field, code and
position, HTTP status and body excerpt. Messages never contain secrets or
unmasked resident identity numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CaseNotKnownYet",
    "ConfigError",
    "CreditGuardError",
    "DeadlineExceeded",
    "InputError",
    "InvalidCodeError",
    "InvalidRecordError",
    "MeasureListError",
    "PluginError",
    "Problem",
    "RecordsUnavailable",
    "SecretMissing",
    "SignatureError",
    "SourceError",
    "SourceRefused",
    "SourceUnavailable",
    "StorageError",
    "UnknownStepError",
]


class CreditGuardError(Exception):
    """Base class of every error creditguard raises on purpose."""


class InputError(CreditGuardError, ValueError):
    """The caller's input is malformed; nothing was changed."""


class InvalidCodeError(InputError):
    """A subject code is not a valid unified social credit code or resident ID number.

    ``reason`` says what is wrong in plain words; ``position`` is the 1-based
    position of the offending character in the normalised code, or ``None``
    when the problem is not one character (length, checksum as a whole).
    """

    def __init__(self, reason: str, *, position: int | None = None, shown: str = "") -> None:
        self.reason = reason
        self.position = position
        self.shown = shown
        where = f" at position {position}" if position is not None else ""
        prefix = f"{shown!r}: " if shown else ""
        super().__init__(f"{prefix}{reason}{where}")


class InvalidRecordError(InputError):
    """A credit record is malformed (``path`` and ``line`` say where, when known)."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + message)


class UnknownStepError(InputError):
    """A check named a step outside the vocabulary: spec §8's steps plus ``[guard] steps``.

    ``step`` is what was asked, ``suggestion`` the closest known step (or None).
    A misspelt step is a programming error, never a decision.
    """

    def __init__(self, message: str, *, step: str | None, suggestion: str | None = None) -> None:
        self.step = step
        self.suggestion = suggestion
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of measure-list validation, naming file, line, measure and field."""

    message: str
    file: str | None = None
    line: int | None = None
    measure: str | None = None
    field: str | None = None
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        where = []
        if self.measure:
            where.append(f"measure {self.measure}")
        if self.field:
            where.append(f"field {self.field}")
        head = ": ".join(parts + ([" ".join(where)] if where else []))
        tag = "warning: " if self.severity == "warning" else ""
        return f"{head}: {tag}{self.message}" if head else f"{tag}{self.message}"


class MeasureListError(InputError):
    """A measure list is malformed or invalid; ``problems`` lists every finding."""

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        shown = errors or list(self.problems)
        text = "\n".join(str(p) for p in shown[:20])
        if len(shown) > 20:
            text += f"\n... and {len(shown) - 20} more"
        super().__init__(text)


class ConfigError(CreditGuardError):
    """The configuration (file, environment or arguments) is wrong."""


class SecretMissing(ConfigError):
    """A secret the configuration needs is not set or empty; the message names where it was looked for."""


class SignatureError(CreditGuardError):
    """A signed request failed verification; ``reason`` says why (never the secret)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class PluginError(CreditGuardError):
    """A plugin is broken: a misspelt hook, a bad registration, a duplicate name."""


class SourceError(CreditGuardError):
    """A record source or the platform failed.

    ``source`` names the source; ``status`` is the HTTP status when there was
    one; ``code`` the platform's error code; ``excerpt`` the first 200
    characters of a body that was not the documented error shape.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        status: int | None = None,
        code: str | None = None,
        excerpt: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.source = source
        self.status = status
        self.code = code
        self.excerpt = excerpt
        self.retry_after = retry_after
        bits = [message]
        if status is not None:
            bits.append(f"(HTTP {status}{' ' + code if code else ''})")
        if excerpt:
            bits.append(f"body: {excerpt!r}")
        head = f"{source}: " if source else ""
        super().__init__(head + " ".join(bits))


class SourceUnavailable(SourceError):
    """Temporary failure (timeout, 5xx, 429, circuit open): worth retrying later."""


class DeadlineExceeded(SourceUnavailable):
    """The check's overall deadline ran out before the records arrived."""


class SourceRefused(SourceError):
    """The source refused the request for good (4xx): retrying will not help."""


class CaseNotKnownYet(SourceRefused):
    """The platform does not know the case an item is about yet (spec §6: "not yet").

    A channel raises it when a response or feedback arrives before the
    case's initiation; the outbox sends the initiation again, then the item.
    """


class RecordsUnavailable(CreditGuardError):
    """Records could not be obtained and the step's failure policy is ``raise``."""

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        self.cause = cause
        super().__init__(message)


class StorageError(CreditGuardError):
    """A local store (mirror, journal, outbox) could not be read or written."""
