"""The one way a secret is looked up: a value given directly, or an environment variable.

Adapters call :func:`read_secret` with whatever their options are called
(``secret``/``secret_env``, ``token``/``token_env``, ...), so core never names
an adapter's option, and every adapter refuses a missing or empty secret the
same way: :class:`~creditguard.errors.SecretMissing`, whose message names where
the secret was looked for and never shows a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from creditguard.errors import ConfigError, SecretMissing

__all__ = ["read_secret", "require_secret"]


def read_secret(
    *,
    value: str | bytes | None,
    env: str | None,
    where: str,
    option: str = "secret",
    environ: Mapping[str, str] | None = None,
) -> str | bytes:
    """The secret from exactly one of ``value`` and the variable named ``env``.

    ``where`` names the configuration entry (``source 'jiangsu'``) and
    ``option`` the option holding the value (its variable option is
    ``{option}_env``); both only shape the error message. Raises
    :class:`~creditguard.errors.ConfigError` when both or neither are given and
    :class:`~creditguard.errors.SecretMissing` when the variable is unset or
    the secret is empty.
    """
    if value is not None and env:
        raise ConfigError(
            f"{where}: give exactly one of '{option}_env' (recommended) and '{option}'"
        )
    if env:
        found = (os.environ if environ is None else environ).get(env, "")
        return require_secret(found, f"{where}: environment variable {env} ({option}_env)")
    if value is None:
        raise SecretMissing(
            f"{where}: give exactly one of '{option}_env' (recommended: the variable "
            f"holding the {option}) and '{option}'"
        )
    return require_secret(value, f"{where}: option '{option}'")


def require_secret(secret: str | bytes | None, where: str) -> str | bytes:
    """``secret`` itself, or :class:`~creditguard.errors.SecretMissing` when it is missing or empty.

    An empty secret would sign (and accept) anything anyone can compute, so it
    is refused wherever a secret is taken: when a channel or receiver is
    built and again when a signature is verified.
    """
    if secret is None or not secret.strip():
        raise SecretMissing(f"{where}: the secret is not set or empty")
    return secret
