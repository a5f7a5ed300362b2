"""The configuration file (``creditguard.toml``) and its model.

Found by argument, else ``CREDITGUARD_CONFIG``. Relative paths in the file
are relative to the file's folder. Secrets are never written in the file:
sources name an environment variable (``secret_env``) instead, though a
literal ``secret`` is accepted for tests.

Example::

    [guard]
    unit_code = "320100-CG"      # this implementing unit
    data_dir = "var"             # mirror, journal and outbox live here
    deadline_ms = 800            # one deadline per check, all retries included
    cache_ttl_s = 300
    commitment_steps = ["licensing.commitment"]

    [[sources]]
    name = "mirror"
    type = "mirror"              # the embedded SQLite mirror
    # path = "var/mirror.db"

    [measures]
    files = ["measures/*.toml"]  # lists of your own (globs allowed)
    packs = true                 # lists from installed measure packs
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
    implements = ["S-01", "NJ-01"]   # measures this unit carries out (platform cases)
"""

from __future__ import annotations

import glob
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from creditguard.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "Config",
    "FailureConfig",
    "GuardSettings",
    "JournalConfig",
    "MeasuresConfig",
    "OutboxConfig",
    "SourceConfig",
    "find_config",
    "load_config",
]

#: Environment variable holding the config file's path.
CONFIG_ENV = "CREDITGUARD_CONFIG"

Policy = Literal["hold", "allow", "stale", "raise"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GuardSettings(_Strict):
    """The ``[guard]`` table."""

    unit_code: str = ""
    data_dir: str = ".creditguard"
    deadline_ms: int = Field(default=800, gt=0)
    cache_ttl_s: float = Field(default=300.0, ge=0)
    cache_size: int = Field(default=100_000, gt=0)
    commitment_steps: tuple[str, ...] = ("licensing.commitment",)


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
    packs: bool = True
    aliases: dict[str, str] = Field(default_factory=dict)


class FailureConfig(_Strict):
    """The ``[failure]`` table: what a step does when records cannot be obtained."""

    default: Policy = "hold"
    stale_fallback: Literal["hold", "allow", "raise"] = "hold"
    max_stale_s: float = Field(default=86400.0, ge=0)
    steps: dict[str, Policy] = Field(default_factory=dict)


class OutboxConfig(_Strict):
    """The ``[outbox]`` table: where cases and feedback wait for delivery."""

    enabled: bool | None = None  # default: on when [guard] unit_code is set
    path: str | None = None  # SQLite file (default <data_dir>/outbox.db) or a postgresql:// DSN
    deliver: bool = True  # run a background delivery worker in this process
    platform: str | None = (
        None  # the [[sources]] entry to deliver to (default: the first of type "platform")
    )
    drain_timeout_s: float = Field(default=5.0, ge=0)
    # Measure codes this unit carries out: platform-initiated cases accept these and decline the rest.
    implements: tuple[str, ...] = ()


class JournalConfig(_Strict):
    """The ``[journal]`` table."""

    enabled: bool = True
    path: str | None = None
    flush_interval_s: float = Field(default=0.5, gt=0)


class Config(_Strict):
    """The whole configuration file."""

    guard: GuardSettings = GuardSettings()
    sources: tuple[SourceConfig, ...] = (SourceConfig(name="mirror", type="mirror"),)
    measures: MeasuresConfig = MeasuresConfig()
    failure: FailureConfig = FailureConfig()
    journal: JournalConfig = JournalConfig()
    outbox: OutboxConfig = OutboxConfig()
    base_dir: str = Field(default=".", exclude=True, validate_default=True)

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


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the configuration; defaults when no file is named anywhere."""
    found = find_config(path)
    if found is None:
        return Config()
    try:
        raw = tomllib.loads(found.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {found} does not exist") from None
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
