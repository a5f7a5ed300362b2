"""HTTP answers of remote agencies, read the same way by every agency adapter.

The guard's driver retries :class:`~creditguard.errors.SourceUnavailable`
within a check's deadline and degrades at once on
:class:`~creditguard.errors.SourceRefused`; these helpers make the HTTP-level
half of that mapping identical across adapters, so only the agency's own
envelope (its ``error_code``, ``Status`` …) is read adapter by adapter.
Anything quoted from a body is cut to :data:`EXCERPT_CHARS` and has the
adapter's secrets blanked out. :func:`secure_base_url` keeps agency tokens off
plain HTTP. The paging loop lives in :mod:`creditguard.agency_search`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx

from creditguard.errors import ConfigError, SourceRefused, SourceUnavailable
from creditguard.masking import mask_text
from creditguard.remote.retry import classify_status, parse_retry_after

__all__ = [
    "EXCERPT_CHARS",
    "excerpt",
    "int_or_minus_one",
    "is_loopback_host",
    "item_text",
    "json_body",
    "json_envelope",
    "raise_for_status",
    "scrub",
    "secure_base_url",
]

log = logging.getLogger("creditguard.sources")

_INTEGER: Final = re.compile(r"\s*-?[0-9]{1,18}\s*")

EXCERPT_CHARS: Final = 200
"""How much of a body an error message may quote."""


def raise_for_status(response: httpx.Response, *, source: str, secrets: Sequence[str] = ()) -> None:
    """Raise unless ``response`` has a 2xx status.

    A retryable status (408, 425, 429, 5xx; see
    :func:`~creditguard.remote.retry.classify_status`) raises
    ``SourceUnavailable`` with ``Retry-After`` as ``retry_after``; any other
    non-2xx raises ``SourceRefused``. Both carry the status and an excerpt of the body.
    """
    status = response.status_code
    kind = classify_status(status)
    if kind == "success":
        return
    if kind == "retryable":
        raise SourceUnavailable(
            "temporarily unavailable",
            source=source,
            status=status,
            excerpt=excerpt(response, secrets),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    raise SourceRefused(
        "credentials refused" if kind == "auth" else "request refused",
        source=source,
        status=status,
        excerpt=excerpt(response, secrets),
    )


def json_envelope(
    response: httpx.Response, *, source: str, secrets: Sequence[str], field: str, agency: str
) -> dict[str, Any]:
    """The JSON object of a 2xx ``response`` that carries ``field``, or raise.

    Non-2xx statuses raise as :func:`raise_for_status` does; a 2xx body that is
    not a JSON object with ``field`` (a gateway's HTML page, say) raises
    ``SourceUnavailable`` naming the ``agency``'s envelope, with the status and
    an excerpt of the body.
    """
    raise_for_status(response, source=source, secrets=secrets)
    body = json_body(response)
    if not isinstance(body, dict) or field not in body:
        raise SourceUnavailable(
            f"answer is not the {agency} JSON envelope",
            source=source,
            status=response.status_code,
            excerpt=excerpt(response, secrets),
        )
    return body


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON body, or ``None`` when it is not JSON (a gateway's HTML page, say)."""
    try:
        return json.loads(response.content)
    except ValueError:  # includes UnicodeDecodeError
        return None


def excerpt(response: httpx.Response, secrets: Sequence[str] = ()) -> str:
    """The start of the body as text, at most :data:`EXCERPT_CHARS`, secrets blanked, ID numbers masked."""
    # Decode a little more than needed: multi-byte characters and scrubbing shorten it.
    text = response.content[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    return mask_text(scrub(text, secrets))[:EXCERPT_CHARS]


def int_or_minus_one(value: object) -> int:
    """An agency's count or flag as an ``int`` (number or digit string), ``-1`` when unreadable."""
    if isinstance(value, bool):
        return -1
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return -1


def item_text(item: Mapping[str, Any], key: str) -> str:
    """``item[key]`` as stripped text; ``""`` when absent or ``None``."""
    value = item.get(key)
    if value is None:
        return ""
    return str(value).strip()


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def secure_base_url(base_url: str, *, source: str, allow_plain_http: bool = False) -> str:
    """``base_url`` without its trailing ``/``, refused unless it is safe to send a secret to.

    Agency adapters send their token or key with every request, so the base
    URL must be ``https://``. Plain ``http://`` is accepted only for a loopback
    host (a test server, a local proxy) or when ``allow_plain_http`` says the
    integrator chose it (an internal gateway that terminates TLS); then a
    warning is logged once per source built.

    Raises :class:`~creditguard.errors.ConfigError` naming the source.
    """
    url = httpx.URL(base_url)
    if url.scheme == "https" and url.host:
        return base_url.rstrip("/")
    if url.scheme != "http" or not url.host:
        raise ConfigError(f"source {source!r}: base_url must be an https:// URL, got {base_url!r}")
    if is_loopback_host(url.host):
        return base_url.rstrip("/")
    if not allow_plain_http:
        raise ConfigError(
            f"source {source!r}: base_url {base_url!r} is plain http:// to another host, "
            "which would send the agency token unencrypted; use https:// "
            "(or set allow_plain_http = true for a gateway you trust)"
        )
    log.warning(
        "source %r: sending the agency token over plain http:// to %s (allow_plain_http is set)",
        source,
        url.host,
    )
    return base_url.rstrip("/")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and any loopback IP address (``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
