"""Webhook receiver for pushed events (spec §7.2), usable from any WSGI or ASGI app.

:func:`receive` is a plain function: headers, body and request line in,
``(status, body)`` out. The platform's channel checks the request (for
platform API v1: signature, timestamp window and nonce, spec §2) and reads
the event before anything else; the receiver refuses a replayed request
across processes, stores the event durably before it answers 2xx, and
answers 200 again for an ``event_id`` it already has. Refusals are logged
with the reason, never with the secret. :func:`make_wsgi_app` and
:func:`make_asgi_app` wrap it; both refuse to be built without a channel.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

from creditguard.channels import Channel, PushEvent
from creditguard.errors import ConfigError, InputError, SignatureError, StorageError
from creditguard.push_feed import FeedState

__all__ = ["MAX_BODY", "make_asgi_app", "make_wsgi_app", "receive"]

log = logging.getLogger("creditguard.webhook")

#: Request bodies are at most 1 MiB (spec §1).
MAX_BODY = 1 << 20


def _answer(status: int, payload: Mapping[str, Any]) -> tuple[int, bytes]:
    return status, json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return _answer(status, {"error": {"code": code, "message": message}})


def receive(
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str,
    path: str,
    query: str = "",
    channel: Channel,
    store: FeedState,
    now: float | None = None,
    on_stored: Callable[[PushEvent], None] | None = None,
) -> tuple[int, bytes]:
    """Verify and store one pushed event; returns the HTTP status and JSON body to answer.

    ``path`` is the request path exactly as sent (with any prefix), which the
    platform signed. ``on_stored`` is called after a new event is stored
    (to wake whatever applies stored events); its failure does not undo the 200.
    """
    if method.upper() != "POST":
        return _error(405, "METHOD_NOT_ALLOWED", "webhook accepts POST only")
    if len(body) > MAX_BODY:
        return _error(413, "PAYLOAD_TOO_LARGE", "request body exceeds 1 MiB")
    current = time.time() if now is None else now
    try:
        received = channel.receive_push(
            method=method, path=path, query=query, headers=headers, body=body, now=current
        )
        if not store.first_use(received.replay_key, now=current, window_s=received.replay_window_s):
            raise SignatureError("request was already received (replayed nonce)")
    except SignatureError as exc:
        log.warning("webhook request refused: %s", exc.reason)
        return _error(401, "UNAUTHENTICATED", exc.reason)
    except InputError as exc:
        return _error(400, "INVALID_ARGUMENT", f"body is not an event: {str(exc)[:200]}")
    except StorageError as exc:
        log.error("webhook cannot check the request against replays: %s", exc)
        return _error(503, "UNAVAILABLE", "event store unavailable, retry later")
    event = received.event
    try:
        fresh = store.store_event(event)
    except StorageError as exc:
        log.error("webhook cannot store event %s: %s", event.event_id, exc)
        return _error(503, "UNAVAILABLE", "event store unavailable, retry later")
    if fresh and on_stored is not None:
        try:
            on_stored(event)
        except Exception:  # the event is stored; applying later will catch up
            log.exception("webhook on_stored callback failed for %s", event.event_id)
    return _answer(200, {"event_id": event.event_id, "status": "stored" if fresh else "duplicate"})


# --- WSGI -------------------------------------------------------------------------------

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    503: "Service Unavailable",
}


def _wsgi_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            out[key[5:].replace("_", "-").lower()] = str(value)
    return out


def _check_channel(channel: object) -> None:
    # Refuse at build time: a receiver that cannot verify would accept forged pushes.
    if channel is None or not isinstance(channel, Channel):
        raise ConfigError(
            "the webhook receiver needs the platform's channel (creditguard.channels.open_channel), "
            f"got {type(channel).__name__}"
        )


def make_wsgi_app(
    *,
    channel: Channel,
    store: FeedState,
    on_stored: Callable[[PushEvent], None] | None = None,
) -> WsgiApp:
    """A WSGI application that receives pushed events at any path it is mounted on."""
    _check_channel(channel)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            status, payload = _error(413, "PAYLOAD_TOO_LARGE", "request body exceeds 1 MiB")
        else:
            body = environ["wsgi.input"].read(length) if length else b""
            raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
            path = (
                str(raw).split("?", 1)[0]
                if raw
                else environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            )
            status, payload = receive(
                _wsgi_headers(environ),
                body,
                method=environ.get("REQUEST_METHOD", "GET"),
                path=path,
                query=environ.get("QUERY_STRING", ""),
                channel=channel,
                store=store,
                on_stored=on_stored,
            )
        start_response(
            f"{status} {_REASONS.get(status, 'Error')}",
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(payload))),
            ],
        )
        return [payload]

    return app


# --- ASGI -------------------------------------------------------------------------------

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


def make_asgi_app(
    *,
    channel: Channel,
    store: FeedState,
    on_stored: Callable[[PushEvent], None] | None = None,
) -> AsgiApp:
    """An ASGI application doing what :func:`make_wsgi_app` does; storing runs in a worker thread."""
    import anyio.to_thread

    _check_channel(channel)

    async def app(scope: MutableMapping[str, Any], receive_: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive_()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_BODY:
                chunks.append(chunk)
            more = bool(message.get("more_body", False))
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        raw_path = scope.get("raw_path")
        path = (
            raw_path.decode("latin-1") if raw_path else scope.get("root_path", "") + scope["path"]
        )
        if size > MAX_BODY:
            status, payload = _error(413, "PAYLOAD_TOO_LARGE", "request body exceeds 1 MiB")
        else:
            status, payload = await anyio.to_thread.run_sync(
                lambda: receive(
                    headers,
                    b"".join(chunks),
                    method=scope.get("method", "GET"),
                    path=path,
                    query=scope.get("query_string", b"").decode("latin-1"),
                    channel=channel,
                    store=store,
                    on_stored=on_stored,
                )
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app
