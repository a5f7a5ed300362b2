"""An ``httpx.Auth`` that signs requests per spec §2, for tests that talk to the platform directly."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from creditguard.signing import signed_headers

__all__ = ["SigningAuth"]


class SigningAuth(httpx.Auth):
    """Add the four ``X-CG-*`` headers to every request (secret kept out of ``repr``)."""

    requires_request_body = True

    def __init__(self, app_key: str, secret: str) -> None:
        self.app_key = app_key
        self._secret = secret

    def __repr__(self) -> str:
        return f"SigningAuth(app_key={self.app_key!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign ``request`` over its raw path, query and body."""
        path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
        query = request.url.query.decode("ascii")
        request.headers.update(
            signed_headers(self.app_key, self._secret, request.method, path, query, request.content)
        )
        yield request
