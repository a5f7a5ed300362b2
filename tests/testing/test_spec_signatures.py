"""Spec §2 known-answer vectors: the product's signer and the reference platform's verifier.

The vectors were computed with ``openssl dgst -sha256 -hmac`` (spec §2), so
neither side is checked against the other: each must reproduce them.
"""

from __future__ import annotations

import httpx
import pytest
from creditguard_platform.auth import PlatformAuth, sign

from creditguard.testing.auth import SeenNonces, SignatureRefused, check_signature, spec_signature

SECRET = "cg-test-secret-0001"
POST_BODY = (
    b'{"subject_code":"91320100MA1W2K7D41","step":"procurement.bid","region":"320100",'
    b'"measures":["S-01"],"unit_code":"320100-CG"}'
)
VECTORS = [
    (
        "GET",
        "/api/v1/subjects/91320100MA1W2K7D41/records",
        "as_of=2026-03-01&include_related=true",
        "1767225600000",
        "AbCdEf0123456789",
        b"",
        "b8fb3ef745f054c92734685438c3e0bd8fec614abe4b0255f6d0a501acf46f2d",
    ),
    (
        "POST",
        "/v1/cases",
        "",
        "1767225600123",
        "Zz9Yy8Xx7Ww6Vv5U",
        POST_BODY,
        "8bdd48f0959a97b2e964682ee0e3cc42543959836f909ea4a7678dd97ce8dcb4",
    ),
    (
        "GET",
        "/v1/pushes",
        "cursor=a%20b%2Fc&limit=100",
        "1767225600000",
        "Nonce000000000001",
        b"",
        "a418cd8b5f9876ca7001d454e50d153a929bef2794ee201f0186acc69d41482d",
    ),
]
IDS = ["get-records", "post-case", "get-pushes"]


def test_the_post_vectors_body_hash_is_the_spec_s() -> None:
    import hashlib

    assert hashlib.sha256(POST_BODY).hexdigest() == (
        "6b268f29a93971f578ba67ad8429110694bf70b97d35cf8afe77d4b161096690"
    )


@pytest.mark.parametrize(
    ("method", "path", "query", "ts", "nonce", "body", "want"), VECTORS, ids=IDS
)
def test_the_adapters_signer_reproduces_the_vectors(
    method: str, path: str, query: str, ts: str, nonce: str, body: bytes, want: str
) -> None:
    assert sign(SECRET, method, path, query, ts, nonce, body) == want


@pytest.mark.parametrize(
    ("method", "path", "query", "ts", "nonce", "body", "want"), VECTORS, ids=IDS
)
def test_the_adapters_auth_signs_requests_as_sent(
    method: str, path: str, query: str, ts: str, nonce: str, body: bytes, want: str
) -> None:
    # Built the way the adapter builds requests: params given as values, encoded by httpx.
    params = [tuple(p.split("=", 1)) for p in query.split("&")] if query else []
    decoded = [(k, httpx.URL(f"http://x/?v={v}").params["v"]) for k, v in params]
    auth = PlatformAuth("k", SECRET, clock=lambda: int(ts) / 1000, nonce=lambda: nonce)
    request = httpx.Request(
        method, httpx.URL("http://platform.test" + path, params=decoded or None), content=body
    )
    assert auth.sign(request).headers["X-CG-Signature"] == want


@pytest.mark.parametrize(
    ("method", "path", "query", "ts", "nonce", "body", "want"), VECTORS, ids=IDS
)
def test_the_reference_platform_accepts_the_vectors(
    method: str, path: str, query: str, ts: str, nonce: str, body: bytes, want: str
) -> None:
    assert spec_signature(SECRET, method, path, query, ts, nonce, body) == want
    headers = {
        "X-CG-AppKey": "k",
        "X-CG-Timestamp": ts,
        "X-CG-Nonce": nonce,
        "X-CG-Signature": want,
    }
    now = int(ts) / 1000
    nonces = SeenNonces()
    assert (
        check_signature(headers, {"k": SECRET}, method, path, query, body, nonces=nonces, now=now)
        == "k"
    )
    with pytest.raises(SignatureRefused, match="nonce"):
        check_signature(headers, {"k": SECRET}, method, path, query, body, nonces=nonces, now=now)
    tampered = {**headers, "X-CG-Signature": want[:-1] + ("0" if want[-1] != "0" else "1")}
    with pytest.raises(SignatureRefused, match="does not match"):
        check_signature(
            tampered, {"k": SECRET}, method, path, query, body, nonces=SeenNonces(), now=now
        )
