"""Spec §2 signatures as the reference platform sees them, written from the spec alone.

The reference platform is an oracle for the product's platform adapter, so it
must not borrow the adapter's signer or verifier: a canonicalisation mistake
shared by both would pass every test. This module implements the server side
(:func:`check_signature`, :class:`SeenNonces`) and a signing ``httpx.Auth``
for tests that talk to the reference platform directly (:class:`SigningAuth`).
tests/testing checks it against the known-answer vectors of spec §2.
"""

from __future__ import annotations

import hashlib
import hmac
import string
import threading
import time
import uuid
from collections.abc import Generator, Mapping
from urllib.parse import quote, unquote_plus

import httpx

__all__ = ["SeenNonces", "SignatureRefused", "SigningAuth", "check_signature", "spec_signature"]

_SKEW_S = 300.0
_NONCE_WINDOW_S = 900.0
_NONCE_CHARS = frozenset(string.ascii_letters + string.digits)


class SignatureRefused(Exception):
    """The reference platform refuses the request's signature (answered as 401)."""


def _rfc3986(text: str) -> str:
    return quote(text, safe="~-._")


def _query_line(raw_query: str) -> str:
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        name, _, value = part.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value)))
    pairs.sort()
    return "&".join(_rfc3986(n) + "=" + _rfc3986(v) for n, v in pairs)


def spec_signature(
    secret: str, method: str, path: str, raw_query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """The ``X-CG-Signature`` value spec §2 defines for these parts."""
    lines = (
        method.upper(),
        path,
        _query_line(raw_query),
        timestamp,
        nonce,
        hashlib.sha256(body).hexdigest(),
    )
    return hmac.new(secret.encode("utf-8"), "\n".join(lines).encode("utf-8"), "sha256").hexdigest()


class SeenNonces:
    """Nonces seen per key within 15 minutes (the platform refuses a reuse); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], float] = {}

    def first_use(self, app_key: str, nonce: str, now: float) -> bool:
        """Record the nonce; False when this key used it within the window."""
        with self._lock:
            if len(self._seen) > 50_000:
                self._seen = {k: t for k, t in self._seen.items() if now - t < _NONCE_WINDOW_S}
            at = self._seen.get((app_key, nonce))
            if at is not None and now - at < _NONCE_WINDOW_S:
                return False
            self._seen[(app_key, nonce)] = now
            return True


def check_signature(
    headers: Mapping[str, str],
    keys: Mapping[str, str],
    method: str,
    path: str,
    raw_query: str,
    body: bytes,
    *,
    nonces: SeenNonces,
    now: float,
) -> str:
    """The app key of a correctly signed request, or :class:`SignatureRefused` saying why."""
    h = {k.lower(): v for k, v in headers.items()}
    app_key = h.get("x-cg-appkey", "")
    timestamp = h.get("x-cg-timestamp", "")
    nonce = h.get("x-cg-nonce", "")
    given = h.get("x-cg-signature", "")
    if not (app_key and timestamp and nonce and given):
        raise SignatureRefused("missing X-CG-* header")
    secret = keys.get(app_key)
    if not secret:
        raise SignatureRefused("unknown app key")
    if not (16 <= len(nonce) <= 64 and set(nonce) <= _NONCE_CHARS):
        raise SignatureRefused("nonce must be 16 to 64 characters of [A-Za-z0-9]")
    if not (timestamp.isascii() and timestamp.isdecimal() and len(timestamp) <= 15):
        raise SignatureRefused("timestamp is not Unix milliseconds")
    if abs(now * 1000 - int(timestamp)) > _SKEW_S * 1000:
        raise SignatureRefused("timestamp is more than 300 s away from the platform's clock")
    wanted = spec_signature(secret, method, path, raw_query, timestamp, nonce, body)
    if not hmac.compare_digest(wanted, given):
        raise SignatureRefused("signature does not match")
    if not nonces.first_use(app_key, nonce, now):
        raise SignatureRefused("nonce was already used")
    return app_key


class SigningAuth(httpx.Auth):
    """Signs every request per spec §2 for tests that call the reference platform directly."""

    requires_request_body = True

    def __init__(self, app_key: str, secret: str) -> None:
        if not secret:
            raise ValueError("SigningAuth needs a non-empty secret")
        self.app_key = app_key
        self._secret = secret

    def __repr__(self) -> str:
        return f"SigningAuth(app_key={self.app_key!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the four ``X-CG-*`` headers over the request's raw path, query and body."""
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        timestamp = str(round(time.time() * 1000))
        nonce = uuid.uuid4().hex
        request.headers["X-CG-AppKey"] = self.app_key
        request.headers["X-CG-Timestamp"] = timestamp
        request.headers["X-CG-Nonce"] = nonce
        request.headers["X-CG-Signature"] = spec_signature(
            self._secret, request.method, path, query, timestamp, nonce, request.content
        )
        yield request
