"""Valid subject codes and small helpers shared by the testing kit's tests."""

from __future__ import annotations

ORG = "91320100MA1W2K7D41"
ORG2 = "91110000710925462X"
ORG3 = "9144030071526726XG"


def resident_id(first17: str) -> str:
    """A valid resident ID number from its first 17 digits (GB 11643 check character)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


PERSON = resident_id("32010219800101123")


def signed_headers(
    app_key: str,
    secret: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    *,
    now: float | None = None,
) -> dict[str, str]:
    """Spec §2 headers made by the product's signer (itself checked against the spec's vectors)."""
    import time

    from creditguard_platform.auth import PlatformAuth, new_nonce, sign

    ts = str(int((time.time() if now is None else now) * 1000))
    nonce = new_nonce()
    if not secret:  # PlatformAuth refuses an empty secret; a forger would not
        return {
            "X-CG-AppKey": app_key,
            "X-CG-Timestamp": ts,
            "X-CG-Nonce": nonce,
            "X-CG-Signature": sign(b"\0", method, path, query, ts, nonce, body),
        }
    auth = PlatformAuth(app_key, secret, clock=lambda: int(ts) / 1000, nonce=lambda: nonce)
    return auth.headers(method, path, query, body)
