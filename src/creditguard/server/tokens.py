"""Feedback tokens: a decision carried by the client, so feedback works in any worker, any time.

``/v1/check`` answers a decision that applied measures with an opaque
``feedback_token``; ``/v1/feedback`` accepts it instead of a decision id.
The token is the decision itself (compressed JSON), sealed with AES-256-GCM
under the service's feedback key: the client can neither read it (it holds
the subject's code, perhaps a resident ID number, and records a unit may not
be shown) nor change it. Any worker holding the same key, before or after a
restart, opens it; no shared decision store is needed.

The key comes from ``[server] feedback_key_env`` (or ``feedback_key`` in
tests). Without one a random key is made per process: tokens then work only
in the process that issued them, until it stops (a warning says so at start).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import zlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from creditguard.errors import InputError
from creditguard.models import Decision

__all__ = ["PREFIX", "BadToken", "FeedbackTokens", "OpenedToken"]

#: Tokens start with this (a version: a later format gets another prefix).
PREFIX = "cgf1."
_AAD = b"creditguard feedback token v1"
_NONCE = 12


class BadToken(InputError):
    """A feedback token that was not issued with this key, was altered, or has expired."""


@dataclass(frozen=True, slots=True)
class OpenedToken:
    """What a valid token carries: the unit that made the decision, the decision, when issued.

    ``case_id`` is the case the check opened and ``workflow_ref`` the
    application reference the check was given, so feedback goes to that case
    in any worker (None in tokens issued before they were carried).
    """

    unit_code: str
    decision: Decision
    issued_at: float
    case_id: str | None = None
    workflow_ref: str | None = None


class FeedbackTokens:
    """Seals decisions into tokens and opens them again (thread-safe: AES-GCM is stateless)."""

    def __init__(self, secret: str | bytes | None, *, max_age_s: float) -> None:
        if secret is None:
            key = os.urandom(32)
        else:
            raw = secret.encode() if isinstance(secret, str) else secret
            # Any length of secret becomes one 256-bit key, bound to this use.
            key = hashlib.sha256(b"creditguard feedback key\x00" + raw).digest()
        self.ephemeral = secret is None
        self.max_age_s = max_age_s
        self._aead = AESGCM(key)

    def issue(
        self,
        unit_code: str,
        decision: Decision,
        *,
        case_id: str | None = None,
        workflow_ref: str | None = None,
        now: float | None = None,
    ) -> str:
        """The token of ``decision``, made for ``unit_code``, naming its case and application."""
        issued = time.time() if now is None else now
        data: dict[str, object] = {
            "u": unit_code,
            "t": round(issued),
            "d": decision.model_dump(mode="json"),
        }
        if case_id is not None:
            data["c"] = case_id
        if workflow_ref is not None:
            data["w"] = workflow_ref
        plain = json.dumps(
            data,
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, zlib.compress(plain, 6), _AAD)
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()

    def open(self, token: str, *, now: float | None = None) -> OpenedToken:
        """The unit, decision and issue time of ``token``; :class:`BadToken` when it is not valid."""
        if not token.startswith(PREFIX):
            raise BadToken(f"feedback_token: not a token of this service (it starts {PREFIX!r})")
        body = token[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except ValueError:
            raise BadToken("feedback_token: not valid base64url") from None
        if len(raw) <= _NONCE + 16:
            raise BadToken("feedback_token: too short")
        try:
            plain = zlib.decompress(self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], _AAD))
            data = json.loads(plain)
            opened = OpenedToken(
                unit_code=str(data["u"]),
                decision=Decision.model_validate(data["d"]),
                issued_at=float(data["t"]),
                case_id=_optional_text(data.get("c")),
                workflow_ref=_optional_text(data.get("w")),
            )
        except InvalidTag:
            hint = (
                " (this process made a random key at start: set [server] feedback_key_env so "
                "every worker and restart shares one)"
                if self.ephemeral
                else ""
            )
            raise BadToken(
                "feedback_token: not issued with this service's feedback key, or altered" + hint
            ) from None
        except (zlib.error, ValueError, KeyError, TypeError, ValidationError):
            raise BadToken("feedback_token: its content is not a decision") from None
        age = (time.time() if now is None else now) - opened.issued_at
        if age > self.max_age_s:
            raise BadToken(
                f"feedback_token: issued {age / 86400:.0f} days ago, older than the "
                f"{self.max_age_s / 86400:g} days tokens are accepted; check again"
            )
        return opened


def _optional_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError("not a text")  # a sealed token holds what issue() wrote: never reached
