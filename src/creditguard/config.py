"""The configuration file (``creditguard.toml``) and its model.

Found by argument, else ``CREDITGUARD_CONFIG``. Relative paths in the file
are relative to the file's folder. Secrets are never written in the file:
sources name an environment variable (``secret_env``) instead, though a
literal ``secret`` is accepted for tests.

The file is UTF-8 (a byte-order mark, as Notepad writes, is accepted).
Numbers and switches are strict: ``deadline_ms = true`` or ``"800"`` is an
error, never 1 ms or 800 ms by conversion. ``load_config()`` with no file
named anywhere returns the built-in defaults (for commands that only inspect);
``load_config(required=True)`` and ``Guard.from_config()`` refuse instead,
because a guard without a configuration would check against nothing.

Example::

    [guard]
    unit_code = "320100-CG"      # this implementing unit
    data_dir = "var"             # mirror, journal and outbox live here
    deadline_ms = 800            # one deadline per check, all retries included
    cache_ttl_s = 300
    commitment_steps = ["licensing.commitment"]
    steps = ["housing.allocate"] # steps of your own, beside spec §8's (no wildcards)

    [[sources]]
    name = "mirror"
    type = "mirror"              # the embedded SQLite mirror
    # path = "var/mirror.db"

    [measures]
    files = ["measures/*.toml"]  # lists of your own (globs allowed)
    packs = true                 # installed measure packs, example packs excepted;
                                 # or by name: ["measures-statutes", "measures-jiangsu-example"]
    # rights_limiting_levels = { "330000" = ["law", "administrative_regulation"] }
    # instruments = ["measures/instruments.toml"]  # your own instruments and articles
    # platform_regions = ["320100"]  # lists the platform publishes (creditguard sync fetches)
    # platform_refresh_s = 86400     # a guard being built fetches a list missing or older
    # platform_fetch_timeout_s = 3.0 # ... waiting at most this long (0 s refresh: never)
    aliases = { "320102" = "320100" }

    [failure]
    default = "hold"             # hold | allow | stale | raise
    stale_fallback = "hold"
    max_stale_s = 86400
    steps = { "procurement.*" = "stale" }

    [journal]
    enabled = true

    [outbox]                     # cases and feedback (on when unit_code is set)
    # path = "var/outbox.db"     # or "postgresql://..." for several hosts
    deliver = true               # background delivery in this process
    # platform = "jiangsu"       # which [[sources]] entry to deliver to
    # lease_s = 60               # a claimed item stays locked this long (killed deliverer)
    # feedback_due_s = 86400     # a case with no feedback this long is listed as overdue
    implements = ["S-01", "NJ-01"]   # measures this unit carries out (platform cases)

    [supervision]                # the lifecycle of listed subjects (docs/supervision.md)
    # holidays_dir = "holidays"  # YYYY.toml schedules beyond the shipped 2025-2026
    rules = { "320100" = [{ pack = "notice-893-2018", from = 2021-01-01 }] }
    disclosure_days = { administrative_penalty = 7, gsxt = 20 }
"""

from __future__ import annotations

import glob
import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from creditguard.errors import ConfigError
from creditguard.models import BasisLevel
from creditguard.steps import StepVocabulary

__all__ = [
    "CONFIG_ENV",
    "Config",
    "FailureConfig",
    "GuardSettings",
    "JournalConfig",
    "MeasuresConfig",
    "OutboxConfig",
    "RulePackAdoption",
    "SourceConfig",
    "SupervisionConfig",
    "config_from_dict",
    "find_config",
    "load_config",
    "redacted",
]

#: Environment variable holding the config file's path.
CONFIG_ENV = "CREDITGUARD_CONFIG"

Policy = Literal["hold", "allow", "stale", "raise"]

# Strict numbers and switches: TOML has real integers, floats and booleans, so a
# quoted "800" or a `true` where a number belongs is a mistake to report, not to convert.
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]  # an integer is still accepted (300 means 300.0)
Bool = Annotated[bool, Strict()]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GuardSettings(_Strict):
    """The ``[guard]`` table."""

    unit_code: str = ""
    data_dir: str = ".creditguard"
    deadline_ms: Int = Field(default=800, gt=0)
    cache_ttl_s: Float = Field(default=300.0, ge=0)
    cache_size: Int = Field(default=100_000, gt=0)
    commitment_steps: tuple[str, ...] = ("licensing.commitment",)
    #: the integrator's own steps, accepted beside spec §8's (exact names, no wildcards)
    steps: tuple[str, ...] = ()

    @field_validator("steps")
    @classmethod
    def _step_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        StepVocabulary(value)  # the one check of a step name; raises ValueError naming it
        return value


class SourceConfig(BaseModel):
    """One ``[[sources]]`` table: ``name``, ``type`` and the type's own options."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str = Field(min_length=1)
    type: str = Field(min_length=1)

    @property
    def options(self) -> dict[str, Any]:
        """The type-specific options (everything but name and type)."""
        return dict(self.model_extra or {})


class MeasuresConfig(_Strict):
    """The ``[measures]`` table."""

    files: tuple[str, ...] = ()
    #: ``true``: every installed pack except example packs; a list of pack names
    #: (entry-point or distribution names): exactly those, example packs included;
    #: ``false``: none. A pack and a list file for the same region are a conflict.
    packs: Bool | tuple[str, ...] = True
    aliases: dict[str, str] = Field(default_factory=dict)
    #: region → basis levels that may carry a rights-limiting measure there
    #: (default 国办发〔2020〕49号; a region may only be stricter)
    rights_limiting_levels: dict[str, tuple[BasisLevel, ...]] = Field(default_factory=dict)
    #: an agency's own instruments files (the shipped table's format), merged into the
    #: shipped table: they may add instruments and articles, never contradict it
    instruments: tuple[str, ...] = ()
    #: regions whose list comes from the platform (spec §5.1), fetched by ``creditguard
    #: sync`` and kept in ``data_dir/measure-lists``; a file or pack for one of them is a
    #: conflict, and a region with none fetched yet refuses checks (never falls back)
    platform_regions: tuple[str, ...] = ()
    #: a guard being built fetches a platform region's list when none is kept or the kept
    #: one was fetched longer ago than this (seconds); 0: only ``creditguard sync`` fetches
    platform_refresh_s: Float = Field(default=86400.0, ge=0)
    #: the longest a guard's construction waits for the platform's lists, all regions
    #: together; on timeout or failure the last good list stays in force
    platform_fetch_timeout_s: Float = Field(default=3.0, gt=0, le=60)

    @field_validator("platform_regions")
    @classmethod
    def _platform_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for region in value:
            if not (len(region) == 6 and region.isascii() and region.isdigit()):
                raise ValueError(f"{region!r} is not a 6-digit region code")
        if len(set(value)) != len(value):
            raise ValueError("a region is named twice")
        return value


class FailureConfig(_Strict):
    """The ``[failure]`` table: what a step does when records cannot be obtained."""

    default: Policy = "hold"
    stale_fallback: Literal["hold", "allow", "raise"] = "hold"
    max_stale_s: Float = Field(default=86400.0, ge=0)
    steps: dict[str, Policy] = Field(default_factory=dict)


class OutboxConfig(_Strict):
    """The ``[outbox]`` table: where cases and feedback wait for delivery."""

    enabled: Bool | None = None  # default: on when [guard] unit_code is set
    path: str | None = None  # SQLite file (default <data_dir>/outbox.db) or a postgresql:// DSN
    deliver: Bool = True  # run a background delivery worker in this process
    platform: str | None = (
        None  # the [[sources]] entry to deliver to (default: the first of type "platform")
    )
    drain_timeout_s: Float = Field(default=5.0, ge=0)
    # How long a claimed item stays locked to its deliverer; a process killed mid-delivery
    # holds its item this long. Must exceed the HTTP timeout (10 s).
    lease_s: Float = Field(default=60.0, gt=10)
    # A case that applied measures and has no feedback this long after it was opened is
    # overdue: listed by `creditguard outbox status` and `outbox open --overdue`, and logged.
    feedback_due_s: Float = Field(default=86400.0, gt=0)
    # Measure codes this unit carries out: platform-initiated cases accept these and decline the rest.
    implements: tuple[str, ...] = ()


class JournalConfig(_Strict):
    """The ``[journal]`` table."""

    enabled: Bool = True
    path: str | None = None
    flush_interval_s: Float = Field(default=0.5, gt=0)


class RulePackAdoption(_Strict):
    """One entry of ``[supervision] rules`` / ``repair_rules``: a region follows ``pack`` from a date."""

    pack: str = Field(min_length=1)
    from_: date = Field(alias="from")
    to: date | None = None  # last day included; None: until replaced


class SupervisionConfig(_Strict):
    """The ``[supervision]`` table: the lifecycle of listed subjects (docs/supervision.md).

    Notice 893's rules were in force 2018-07-24 … 2020-12-31; for later dates a
    region names the rule pack it follows (it may adopt ``notice-893-2018``),
    or lifecycle commands say that no rule set is configured (FACTS §4.1).
    """

    # SQLite file or postgresql:// DSN; default: a PostgreSQL outbox's database, else
    # <data_dir>/supervision.db
    path: str | None = None
    holidays_dir: str | None = None  # operator-added YYYY.toml holiday schedules
    #: region (6 digits) -> packs it follows for the lifecycle, by date
    rules: dict[str, tuple[RulePackAdoption, ...]] = Field(default_factory=dict)
    #: region -> repair packs for dates no national pack covers (2021-01-01 … 2023-04-30)
    repair_rules: dict[str, tuple[RulePackAdoption, ...]] = Field(default_factory=dict)
    #: disclosure kind or channel name -> working days to publish (default 7, FACTS §3)
    disclosure_days: dict[str, Int] = Field(default_factory=lambda: {"administrative_penalty": 7})
    withdrawal_days: Int = Field(default=3, gt=0)  # withdraw a changed/revoked penalty within
    #: the guard's checks see commitment breaches in the store (creditguard.supervision.measures)
    check: Bool = False


class Config(_Strict):
    """The whole configuration file."""

    guard: GuardSettings = GuardSettings()
    sources: tuple[SourceConfig, ...] = (SourceConfig(name="mirror", type="mirror"),)
    measures: MeasuresConfig = MeasuresConfig()
    failure: FailureConfig = FailureConfig()
    journal: JournalConfig = JournalConfig()
    outbox: OutboxConfig = OutboxConfig()
    supervision: SupervisionConfig = SupervisionConfig()
    base_dir: str = Field(default=".", exclude=True, validate_default=True)

    @field_validator("sources")
    @classmethod
    def _some_source(cls, value: tuple[SourceConfig, ...]) -> tuple[SourceConfig, ...]:
        # Zero sources would make every check "no record": allow with nothing looked at.
        if not value:
            raise ValueError(
                "no record source: a check with no source would find nothing and allow; "
                "add a [[sources]] table (or leave sources out for the default mirror)"
            )
        return value

    @field_validator("base_dir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        # Resolved once, so a later chdir never moves the journal, mirror or outbox.
        return str(Path(value).resolve())

    def path(self, value: str) -> Path:
        """A path from the file, resolved against the file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def data_dir(self) -> Path:
        """Where the mirror, journal and outbox live by default."""
        return self.path(self.guard.data_dir)

    def measure_files(self) -> list[Path]:
        """Measure-list files named in ``[measures] files``, globs expanded, sorted."""
        out: list[Path] = []
        for pattern in self.measures.files:
            full = str(self.path(pattern))
            matches = sorted(glob.glob(full))
            if not matches and not glob.has_magic(full):
                raise ConfigError(f"[measures] files: {pattern} does not exist (looked at {full})")
            out.extend(Path(m) for m in matches)
        return out


def find_config(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use: the argument, else ``$CREDITGUARD_CONFIG``, else None."""
    if path is not None:
        return Path(path)
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else None


#: What to say when a command needs a configuration and none is named.
NO_CONFIG_MESSAGE = (
    "no configuration file: pass --config FILE or set CREDITGUARD_CONFIG "
    "(a check without one would look at no data)"
)


def load_config(path: str | os.PathLike[str] | None = None, *, required: bool = False) -> Config:
    """Load and validate the configuration file named by ``path``, else ``$CREDITGUARD_CONFIG``.

    When neither names a file, return the built-in defaults, or raise
    :class:`~creditguard.errors.ConfigError` if ``required`` (what
    :meth:`Guard.from_config <creditguard.guard.Guard.from_config>` does).
    """
    found = find_config(path)
    if found is None:
        if required:
            raise ConfigError(NO_CONFIG_MESSAGE)
        return Config()
    try:
        # utf-8-sig: a leading byte-order mark (Notepad writes one) is not part of the TOML.
        raw = tomllib.loads(found.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"config file {found} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{found}: not UTF-8 text (byte {exc.start + 1} cannot be read); "
            "save the file as UTF-8 (GBK and other encodings are not accepted)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {found}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{found}: not valid TOML: {exc}") from None
    return config_from_dict(raw, base_dir=found.resolve().parent, name=str(found))


def config_from_dict(
    raw: dict[str, Any], *, base_dir: str | os.PathLike[str] = ".", name: str = "<config>"
) -> Config:
    """Validate a decoded configuration, naming the file and field of every problem."""
    try:
        return Config.model_validate({**raw, "base_dir": str(base_dir)})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"{name}: {loc}: {msg}")
        raise ConfigError("\n".join(lines)) from None


#: Option names whose values are secrets (matched case-insensitively, also as suffixes).
_SECRET_KEYS = ("secret", "token", "password", "passwd", "secret_key", "api_key", "apikey")


def _is_secret_key(key: str) -> bool:
    k = key.lower()
    return k.endswith(_SECRET_KEYS) and not k.endswith("_env")


def _redact_url(value: str) -> str:
    # A DSN such as postgresql://user:pw@host/db carries its password in the URL.
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if parts.password is None:
        return value
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _redact(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, key) for v in value]
    if isinstance(value, str):
        if key and _is_secret_key(key) and value:
            return "***"
        if "://" in value:
            return _redact_url(value)
    return value


def redacted(cfg: Config) -> dict[str, Any]:
    """The configuration as JSON-ready data, every secret replaced by ``***``.

    Hides literal secrets (``secret``, ``token``, ``password`` … options) and
    the password inside URLs and DSNs (``postgresql://user:***@host/db``).
    Names of environment variables (``secret_env``) stay visible.
    """
    data: dict[str, Any] = _redact(cfg.model_dump(mode="json"))
    return data
