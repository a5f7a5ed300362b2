"""Request signing of platform API v1 (spec §2): the one signer and its verifier.

:class:`PlatformAuth` is an ``httpx.Auth``: pass it to a client (``auth=``) or
call :meth:`PlatformAuth.sign` on a built request (the source's exchanges,
which a driver sends). It signs the path and query exactly as they will be
sent, so a base URL with a prefix (``/api``) is covered. :func:`verify` checks
a request signed the same way (pushes to the webhook). Neither shows the
secret in a repr or an error message; an empty secret is refused by both.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from urllib.parse import parse_qsl, quote

import httpx
from cachetools import TTLCache

from creditguard.credentials import require_secret
from creditguard.errors import SignatureError

__all__ = [
    "MAX_SKEW_SECONDS",
    "NONCE_WINDOW_SECONDS",
    "NonceCache",
    "PlatformAuth",
    "canonical_query",
    "canonical_string",
    "new_nonce",
    "sign",
    "verify",
]

#: Timestamps further than this from the verifier's clock are refused (spec §2).
MAX_SKEW_SECONDS = 300
#: A nonce is never reused by one key within this window (spec §2).
NONCE_WINDOW_SECONDS = 900.0
_NONCE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_NONCE_LIMIT = 248  # the largest multiple of 62 up to 256
_NONCE = re.compile(r"[A-Za-z0-9]{16,64}")
# Unix milliseconds: ASCII digits only (str.isdigit accepts "²"), and few enough
# of them that the value fits a float (400 digits would overflow the division).
_TIMESTAMP = re.compile(r"[0-9]{1,15}")


def _enc(text: str) -> str:
    return quote(text, safe="-._~")


def canonical_query(query: str | Iterable[tuple[str, str]]) -> str:
    """Parameters sorted by name then value, each ``name=value`` percent-encoded per RFC 3986."""
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
    """Lowercase hex HMAC-SHA256 of the canonical string with ``secret``."""
    key = secret.encode() if isinstance(secret, str) else secret
    msg = canonical_string(method, path, query, timestamp, nonce, body).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def new_nonce(length: int = 24) -> str:
    """A fresh random nonce of ``[A-Za-z0-9]`` characters."""
    # One read of the OS's randomness per nonce, not one per character (~60 µs
    # a request under load); bytes at or over 248 (4 x 62) are dropped so that
    # every character stays equally likely.
    nonce = ""
    while len(nonce) < length:
        nonce += "".join(
            _NONCE_CHARS[b % 62] for b in secrets.token_bytes(length + 8) if b < _NONCE_LIMIT
        )
    return nonce[:length]


class PlatformAuth(httpx.Auth):
    """Adds the four ``X-CG-*`` headers of spec §2 to every request.

    ``clock`` returns Unix time for the timestamp and ``nonce`` makes nonces
    (tests pin both to reproduce the spec's known-answer vectors).
    """

    requires_request_body = True

    def __init__(
        self,
        app_key: str,
        secret: str | bytes,
        *,
        clock: Callable[[], float] | None = None,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        if not app_key:
            raise SignatureError("app key must not be empty")
        self.app_key = app_key
        self._secret = require_secret(secret, f"app key {app_key}")
        self._clock = clock or time.time
        self._nonce = nonce

    def __repr__(self) -> str:
        return f"PlatformAuth(app_key={self.app_key!r}, secret=<hidden>)"

    def headers(self, method: str, path: str, query: str, body: bytes) -> dict[str, str]:
        """The four headers for a request with this method, raw path, raw query and body."""
        ts = str(int(self._clock() * 1000))
        nonce = self._nonce()
        return {
            "X-CG-AppKey": self.app_key,
            "X-CG-Timestamp": ts,
            "X-CG-Nonce": nonce,
            "X-CG-Signature": sign(self._secret, method, path, query, ts, nonce, body),
        }

    def sign(self, request: httpx.Request) -> httpx.Request:
        """Sign ``request`` in place over its path and query as sent and its body; returns it."""
        raw = request.url.raw_path.decode("ascii")
        path, _, query = raw.partition("?")
        request.headers.update(self.headers(request.method, path, query, request.content))
        return request

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """httpx's hook: sign the request, send it once."""
        yield self.sign(request)


class NonceCache:
    """Nonces seen within the replay window, per key; thread-safe, bounded, expiring."""

    def __init__(
        self, window_seconds: float = NONCE_WINDOW_SECONDS, maxsize: int = 1_000_000
    ) -> None:
        self.window_seconds = window_seconds
        # The cache's clock is the ``now`` of the latest check, set under the lock,
        # so callers with their own clock (tests, a server's request time) stay exact.
        self._time = 0.0
        self._seen: TTLCache[tuple[str, str], bool] = TTLCache(
            maxsize, window_seconds, timer=lambda: self._time
        )
        self._lock = threading.Lock()

    def check_and_add(self, app_key: str, nonce: str, now: float) -> bool:
        """Record ``nonce``; False when it was already seen within the window."""
        key = (app_key, nonce)
        with self._lock:
            self._time = max(self._time, now)
            if key in self._seen:
                return False
            self._seen[key] = True
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
    """Check a request's signature, timestamp window and nonce; return its app key.

    Raises :class:`~creditguard.errors.SignatureError` naming what failed
    (never the secret); a key whose secret is empty is refused. Header names
    are matched case-insensitively.
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
    if not secret:
        raise SignatureError("no secret is configured for this app key")
    if not _NONCE.fullmatch(nonce):
        raise SignatureError("nonce must be 16 to 64 characters of [A-Za-z0-9]")
    if not _TIMESTAMP.fullmatch(ts):
        raise SignatureError("timestamp is not Unix milliseconds")
    current = time.time() if now is None else now
    skew = abs(current - int(ts) / 1000)
    if skew > MAX_SKEW_SECONDS:
        raise SignatureError(
            f"timestamp is {skew:.0f} s away from this clock (limit {MAX_SKEW_SECONDS} s)"
        )
    expected = sign(secret, method, path, query, ts, nonce, body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise SignatureError("signature does not match")
    if nonces is not None and not nonces.check_and_add(app_key, nonce, current):
        raise SignatureError("nonce was already used")
    return app_key
