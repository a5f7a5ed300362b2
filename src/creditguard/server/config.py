"""The decision service's configuration file (``creditguard serve --config F``).

One file names the implementing units the service serves and the credentials
that may call it. Each unit points at its own guard configuration (its
``[guard] unit_code``, its platform source holding that unit's app key, its
outbox), so a unit's cases are signed with that unit's key and nobody
else's. Secrets are named by environment variable (``token_env``,
``secret_env``); a literal ``token`` / ``secret`` is accepted for tests.

Example::

    [server]
    host = "127.0.0.1"
    port = 8780
    max_body_bytes = 1048576      # larger requests get 413
    request_timeout_s = 10.0      # a request still running then gets 503
    max_screen_codes = 10000
    feedback_key_env = "CG_FEEDBACK_KEY"  # seals feedback tokens; every worker shares it

    [[units]]
    code = "320100-CG"
    config = "nanjing-cg.toml"    # that unit's guard configuration
    regions = ["320100", "3201*"] # division codes or globs this unit may check
    steps = ["procurement.*"]     # step globs this unit may check
    see_non_public = false        # may it see records that are not public (spec §4)?

    [[credentials]]
    name = "nj-erp"               # shown in logs and metrics, never the secret
    unit = "320100-CG"
    token_env = "NJ_ERP_TOKEN"    # bearer token, and/or:
    app_key = "nj-erp"
    secret_env = "NJ_ERP_SECRET"  # signed requests (spec §2)

    [[credentials]]
    name = "prometheus"
    role = "monitor"              # may read /metrics and the detailed /readyz only
    token_env = "CG_MONITOR_TOKEN"
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

from creditguard.config import NO_CONFIG_MESSAGE, find_config
from creditguard.credentials import read_secret
from creditguard.errors import ConfigError
from creditguard.steps import STEP_SYNTAX

__all__ = [
    "CredentialConfig",
    "ServerSettings",
    "ServiceConfig",
    "UnitConfig",
    "load_service_config",
    "service_config_from_dict",
]

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_Strict):
    """The ``[server]`` table."""

    host: str = "127.0.0.1"
    port: Int = Field(default=8780, ge=0, le=65535)
    #: request bodies above this are refused with 413 (spec §1's limit by default)
    max_body_bytes: Int = Field(default=1024 * 1024, gt=0)
    #: a request still running after this gets 503 UNAVAILABLE (the check's own deadline is shorter)
    request_timeout_s: Float = Field(default=10.0, gt=0)
    #: most codes one ``/v1/screen`` request may carry
    max_screen_codes: Int = Field(default=10_000, gt=0)
    #: decisions kept in memory for ``/v1/feedback`` by decision id (the most recent ones)
    decisions_kept: Int = Field(default=100_000, gt=0)
    #: the secret sealing feedback tokens (every worker of one service must share it);
    #: without one each process makes a random key and its tokens die with it
    feedback_key_env: str | None = None
    feedback_key: str | None = None
    #: a feedback token older than this is refused (check again)
    feedback_token_days: Float = Field(default=30.0, gt=0)

    def feedback_secret(self) -> str | None:
        """The feedback-token secret, read now; None when none is configured."""
        if self.feedback_key is None and not self.feedback_key_env:
            return None
        value = read_secret(
            value=self.feedback_key,
            env=self.feedback_key_env,
            where="[server]",
            option="feedback_key",
        )
        text = value.decode() if isinstance(value, bytes) else value
        if len(text) < 32:
            raise ConfigError(
                "[server] feedback_key: use a random secret of at least 32 characters"
            )
        return text


class UnitConfig(_Strict):
    """One ``[[units]]`` table: an implementing unit the service checks for."""

    code: str = Field(min_length=1, max_length=64)
    #: the unit's guard configuration (relative to the service file)
    config: str = Field(min_length=1)
    #: division codes or globs (``"3201*"``) this unit may check
    regions: tuple[str, ...] = Field(min_length=1)
    #: step globs (``"procurement.*"``) this unit may check
    steps: tuple[str, ...] = Field(min_length=1)
    see_non_public: Bool = False

    def allows_region(self, region: str) -> bool:
        """Whether this unit may check ``region``."""
        return any(fnmatch.fnmatchcase(region, p) for p in self.regions)

    def allows_step(self, step: str) -> bool:
        """Whether this unit may check ``step``."""
        return any(fnmatch.fnmatchcase(step, p) for p in self.steps)

    @model_validator(mode="after")
    def _patterns(self) -> UnitConfig:
        for p in self.regions:
            if not p or not all(c.isdigit() or c in "*?" for c in p) or len(p) > 6:
                raise ValueError(f"regions: {p!r} is not a division code or a glob such as '3201*'")
        for p in self.steps:
            if STEP_SYNTAX.fullmatch(p.replace("*", "x").replace("?", "x")) is None:
                raise ValueError(f"steps: {p!r} is not a step glob such as 'procurement.*'")
        return self


class CredentialConfig(_Strict):
    """One ``[[credentials]]`` table: who may call, as which unit, and how they prove it."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    role: Literal["unit", "monitor"] = "unit"
    unit: str | None = None
    token: str | None = None
    token_env: str | None = None
    app_key: str | None = None
    secret: str | None = None
    secret_env: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> CredentialConfig:
        if self.role == "unit" and not self.unit:
            raise ValueError("a unit credential names its unit (unit = '...')")
        if self.role == "monitor" and self.unit:
            raise ValueError("a monitor credential belongs to no unit")
        has_token = self.token is not None or bool(self.token_env)
        has_key = self.app_key is not None
        if not (has_token or has_key):
            raise ValueError(
                "give a bearer token (token_env) or a signing key (app_key, secret_env)"
            )
        if has_key and self.secret is None and not self.secret_env:
            raise ValueError("app_key needs secret_env (or secret)")
        if not has_key and (self.secret is not None or self.secret_env):
            raise ValueError("secret_env needs app_key")
        return self

    def bearer_token(self) -> str | None:
        """The bearer token, read now; None when this credential has none."""
        if self.token is None and not self.token_env:
            return None
        where = f"credential {self.name!r}"
        value = read_secret(value=self.token, env=self.token_env, where=where, option="token")
        return value.decode() if isinstance(value, bytes) else value

    def signing_secret(self) -> str | None:
        """The spec §2 secret of ``app_key``, read now; None without a key."""
        if self.app_key is None:
            return None
        where = f"credential {self.name!r}"
        value = read_secret(value=self.secret, env=self.secret_env, where=where)
        return value.decode() if isinstance(value, bytes) else value


class ServiceConfig(_Strict):
    """The whole service file."""

    server: ServerSettings = ServerSettings()
    units: tuple[UnitConfig, ...] = Field(min_length=1)
    credentials: tuple[CredentialConfig, ...] = Field(min_length=1)
    base_dir: str = Field(default=".", exclude=True)

    @model_validator(mode="after")
    def _links(self) -> ServiceConfig:
        codes = [u.code for u in self.units]
        if len(set(codes)) != len(codes):
            raise ValueError("two [[units]] have the same code")
        names = [c.name for c in self.credentials]
        if len(set(names)) != len(names):
            raise ValueError("two [[credentials]] have the same name")
        keys = [c.app_key for c in self.credentials if c.app_key is not None]
        if len(set(keys)) != len(keys):
            raise ValueError("two [[credentials]] have the same app_key")
        for c in self.credentials:
            if c.unit is not None and c.unit not in codes:
                raise ValueError(f"credential {c.name!r}: unit {c.unit!r} is not in [[units]]")
        return self

    def unit_config_path(self, unit: UnitConfig) -> Path:
        """The unit's guard configuration file, resolved against the service file's folder."""
        p = Path(unit.config).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p


def service_config_from_dict(
    raw: dict[str, object], *, base_dir: str | os.PathLike[str] = ".", name: str = "<service>"
) -> ServiceConfig:
    """Validate a decoded service file, naming the file and field of every problem."""
    try:
        return ServiceConfig.model_validate({**raw, "base_dir": str(Path(base_dir).resolve())})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"{name}: {loc}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def load_service_config(path: str | os.PathLike[str] | None) -> ServiceConfig:
    """Load the service file named by ``path`` (else ``$CREDITGUARD_CONFIG``)."""
    found = find_config(path)
    if found is None:
        raise ConfigError(NO_CONFIG_MESSAGE)
    try:
        raw = tomllib.loads(found.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"config file {found} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{found}: not UTF-8 text; save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {found}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{found}: not valid TOML: {exc}") from None
    return service_config_from_dict(raw, base_dir=found.resolve().parent, name=str(found))
