"""Who is calling the decision service: bearer tokens and spec §2 signed requests.

Signatures are checked with the project's one spec §2 verifier,
:func:`creditguard_platform.auth.verify` (the platform adapter's, which the push
webhook also uses): the canonical string, the 300-second timestamp window and the
15-minute nonce window are spec §2's. Without that adapter installed, only
bearer tokens can be configured. Tokens are
compared by their SHA-256 digest, so no token is held in a dict key or
compared byte by byte. Nothing here logs or shows a token or secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from creditguard.errors import ConfigError, SignatureError
from creditguard.server.config import CredentialConfig, ServiceConfig, UnitConfig

if TYPE_CHECKING:
    from creditguard_platform.auth import NonceCache

__all__ = ["Authenticator", "Principal", "Refused"]

#: The headers of spec §2; any of them present means "this request is signed".
SIGNED_HEADERS = ("x-cg-appkey", "x-cg-timestamp", "x-cg-nonce", "x-cg-signature")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: its credential's name, role and unit (None for monitors)."""

    credential: str
    role: str
    unit: UnitConfig | None


class Refused(Exception):
    """The request is refused: ``status`` 401 or 403, ``code`` and ``reason`` for the log."""

    def __init__(self, status: int, code: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.reason = reason


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class Authenticator:
    """Maps a request's credentials to a :class:`Principal`, or raises :class:`Refused`."""

    def __init__(self, config: ServiceConfig, *, nonces: NonceCache | None = None) -> None:
        units = {u.code: u for u in config.units}
        self._tokens: dict[bytes, CredentialConfig] = {}
        self._keys: dict[str, CredentialConfig] = {}
        self._secrets: dict[str, str] = {}
        self._units = units
        for cred in config.credentials:
            token = cred.bearer_token()
            if token is not None:
                if len(token) < 16:
                    raise ConfigError(
                        f"credential {cred.name!r}: the bearer token is shorter than 16 characters"
                    )
                self._tokens[_digest(token)] = cred
            secret = cred.signing_secret()
            if secret is not None and cred.app_key is not None:
                self._keys[cred.app_key] = cred
                self._secrets[cred.app_key] = secret
        self._verify: Any = None
        self._nonces = nonces
        if self._keys:
            try:
                from creditguard_platform.auth import NonceCache, verify
            except ImportError:
                raise ConfigError(
                    "signed requests (credentials with app_key) need the creditguard-platform "
                    "adapter, which holds the project's spec §2 verifier; install it or use tokens"
                ) from None
            self._verify = verify
            self._nonces = nonces or NonceCache()

    def __repr__(self) -> str:
        return f"Authenticator(tokens={len(self._tokens)}, keys={sorted(self._keys)})"

    def _principal(self, cred: CredentialConfig) -> Principal:
        unit = self._units.get(cred.unit) if cred.unit is not None else None
        return Principal(cred.name, cred.role, unit)

    def authenticate(
        self,
        headers: Mapping[str, str],
        method: str,
        raw_path: str,
        query: str,
        body: bytes,
        *,
        now: float | None = None,
    ) -> Principal:
        """The caller of a request, from its spec §2 headers or its ``Authorization: Bearer``.

        ``raw_path`` and ``query`` are as sent (the signature covers them
        exactly). Raises :class:`Refused` (401 ``UNAUTHENTICATED``) saying why.
        """
        lower = {k.lower(): v for k, v in headers.items()}
        if any(h in lower for h in SIGNED_HEADERS):
            if self._verify is None:
                raise Refused(
                    401, "UNAUTHENTICATED", "bad_signature", "no credential here signs requests"
                )
            try:
                app_key = self._verify(
                    lower,
                    self._secrets,
                    method,
                    raw_path,
                    query,
                    body,
                    nonces=self._nonces,
                    now=time.time() if now is None else now,
                )
            except SignatureError as exc:
                raise Refused(
                    401, "UNAUTHENTICATED", "bad_signature", f"signature refused: {exc}"
                ) from None
            return self._principal(self._keys[app_key])
        auth = lower.get("authorization", "")
        if not auth:
            raise Refused(
                401,
                "UNAUTHENTICATED",
                "no_credentials",
                "no credentials: send 'Authorization: Bearer <token>' or sign the request (spec §2)",
            )
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(
                401,
                "UNAUTHENTICATED",
                "bad_scheme",
                "the Authorization header must be 'Bearer <token>'",
            )
        given = _digest(token.strip())
        for known, cred in self._tokens.items():
            if hmac.compare_digest(known, given):
                return self._principal(cred)
        raise Refused(401, "UNAUTHENTICATED", "unknown_token", "unknown bearer token")
