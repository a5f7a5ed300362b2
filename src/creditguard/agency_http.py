"""HTTP answers of remote agencies, read the same way by every agency adapter.

The guard's driver retries :class:`~creditguard.errors.SourceUnavailable`
within a check's deadline and degrades at once on
:class:`~creditguard.errors.SourceRefused`; these helpers make the HTTP-level
half of that mapping identical across adapters, so only the agency's own
envelope (its ``error_code``, ``Status`` …) is read adapter by adapter.
Anything quoted from a body is cut to :data:`EXCERPT_CHARS` and has the
adapter's secrets blanked out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import httpx

from creditguard.errors import SourceRefused, SourceUnavailable
from creditguard.masking import mask_text

__all__ = ["EXCERPT_CHARS", "excerpt", "json_body", "raise_for_status", "scrub"]

EXCERPT_CHARS: Final = 200
"""How much of a body an error message may quote."""


def raise_for_status(response: httpx.Response, *, source: str, secrets: Sequence[str] = ()) -> None:
    """Raise unless ``response`` has a 2xx status.

    429 and 5xx raise ``SourceUnavailable`` (a delta-seconds ``Retry-After``
    becomes ``retry_after``); any other non-2xx raises ``SourceRefused``. Both
    carry the status and an excerpt of the body.
    """
    status = response.status_code
    if status == 429 or status >= 500:
        raise SourceUnavailable(
            "temporarily unavailable",
            source=source,
            status=status,
            excerpt=excerpt(response, secrets),
            retry_after=_retry_after(response),
        )
    if not 200 <= status < 300:
        raise SourceRefused(
            "request refused", source=source, status=status, excerpt=excerpt(response, secrets)
        )


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


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After", "").strip()
    return float(raw) if raw.isdigit() else None
