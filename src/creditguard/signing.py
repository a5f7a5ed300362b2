"""Request signing of platform API v1 (spec §2): HMAC-SHA256 over a canonical string.

Used by the platform adapter to sign, and by the webhook receiver and the
reference platform to verify. The secret never leaves this module's callers:
it is not part of any repr or error message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote

__all__ = [
    "MAX_SKEW_SECONDS",
    "NonceCache",
    "SignatureError",
    "canonical_query",
    "canonical_string",
    "new_nonce",
    "sign",
    "signed_headers",
    "verify",
]

#: The server refuses timestamps further than this from its clock (spec §2).
MAX_SKEW_SECONDS = 300
_NONCE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class SignatureError(Exception):
    """A signed request failed verification; ``reason`` says why (never the secret)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _enc(text: str) -> str:
    return quote(text, safe="-._~")


def canonical_query(query: str | Iterable[tuple[str, str]]) -> str:
    """Sort parameters by name then value and percent-encode them per RFC 3986."""
    pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else list(query)
    return "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(pairs))


def canonical_string(
    method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """The six-line canonical string of spec §2 (no trailing newline)."""
    return "\n".join(
        [
            method.upper(),
            path,
            canonical_query(query),
            timestamp,
            nonce,
            hashlib.sha256(body).hexdigest(),
        ]
    )


def sign(
    secret: str | bytes, method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """Lowercase hex HMAC-SHA256 of the canonical string."""
    key = secret.encode() if isinstance(secret, str) else secret
    msg = canonical_string(method, path, query, timestamp, nonce, body).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def new_nonce(length: int = 24) -> str:
    """A fresh random nonce of ``[A-Za-z0-9]`` characters."""
    return "".join(secrets.choice(_NONCE_CHARS) for _ in range(length))


def signed_headers(
    app_key: str,
    secret: str | bytes,
    method: str,
    path: str,
    query: str,
    body: bytes,
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four ``X-CG-*`` headers for one request."""
    ts = str(int((time.time() if now is None else now) * 1000))
    n = nonce or new_nonce()
    return {
        "X-CG-AppKey": app_key,
        "X-CG-Timestamp": ts,
        "X-CG-Nonce": n,
        "X-CG-Signature": sign(secret, method, path, query, ts, n, body),
    }


@dataclass
class NonceCache:
    """Nonces seen within the replay window, per key; expired entries are pruned."""

    window_seconds: float = 900.0
    _seen: dict[tuple[str, str], float] = field(default_factory=dict)
    _prune_at: int = 10_000

    def check_and_add(self, app_key: str, nonce: str, now: float) -> bool:
        """Record ``nonce``; False when it was already seen within the window."""
        if len(self._seen) > self._prune_at:
            cutoff = now - self.window_seconds
            self._seen = {k: t for k, t in self._seen.items() if t >= cutoff}
            # Prune again only after the live set doubles: amortised O(1) per nonce.
            self._prune_at = max(10_000, 2 * len(self._seen))
        key = (app_key, nonce)
        seen_at = self._seen.get(key)
        if seen_at is not None and now - seen_at < self.window_seconds:
            return False
        self._seen[key] = now
        return True


def verify(
    headers: Mapping[str, str],
    secrets_by_key: Mapping[str, str | bytes],
    method: str,
    path: str,
    query: str,
    body: bytes,
    *,
    nonces: NonceCache | None = None,
    now: float | None = None,
) -> str:
    """Check a request's signature, timestamp window and nonce; return the app key.

    Raises :class:`SignatureError` naming what failed. Header names are
    matched case-insensitively.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    app_key = lower.get("x-cg-appkey", "")
    ts = lower.get("x-cg-timestamp", "")
    nonce = lower.get("x-cg-nonce", "")
    signature = lower.get("x-cg-signature", "")
    if not (app_key and ts and nonce and signature):
        raise SignatureError(
            "missing X-CG-AppKey, X-CG-Timestamp, X-CG-Nonce or X-CG-Signature header"
        )
    secret = secrets_by_key.get(app_key)
    if secret is None:
        raise SignatureError("unknown app key")
    if not (16 <= len(nonce) <= 64 and nonce.isascii() and nonce.isalnum()):
        raise SignatureError("nonce must be 16 to 64 characters of [A-Za-z0-9]")
    if not ts.isdigit():
        raise SignatureError("timestamp is not Unix milliseconds")
    current = time.time() if now is None else now
    skew = abs(current - int(ts) / 1000)
    if skew > MAX_SKEW_SECONDS:
        raise SignatureError(
            f"timestamp is {skew:.0f} s away from the server clock (limit {MAX_SKEW_SECONDS} s)"
        )
    expected = sign(secret, method, path, query, ts, nonce, body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise SignatureError("signature does not match")
    if nonces is not None and not nonces.check_and_add(app_key, nonce, current):
        raise SignatureError("nonce was already used")
    return app_key
