"""Qichacha's request signature: ``Token`` = upper-case MD5(AppKey + Timespan + SecretKey)."""

from __future__ import annotations

import hashlib

__all__ = ["auth_headers", "token"]


def token(app_key: str, timespan: str, secret_key: str) -> str:
    """The ``Token`` header for ``timespan`` (Unix seconds as a decimal string)."""
    # MD5 is the vendor's protocol, not our choice of hash.
    digest = hashlib.md5((app_key + timespan + secret_key).encode(), usedforsecurity=False)
    return digest.hexdigest().upper()


def auth_headers(app_key: str, secret_key: str, now: float) -> dict[str, str]:
    """The ``Token`` and ``Timespan`` headers of a request sent at ``now`` (Unix seconds)."""
    timespan = str(int(now))
    return {"Token": token(app_key, timespan, secret_key), "Timespan": timespan}
