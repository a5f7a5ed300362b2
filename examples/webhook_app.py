"""A webhook receiver for platform pushes (spec §7.2), as a WSGI and an ASGI app.

The platform, its key and the variable holding its secret come from the
configuration (``[outbox] platform`` or the first ``[[sources]]`` entry with a
channel), exactly as for the guards and ``creditguard sync``::

    CREDITGUARD_CONFIG=creditguard.toml CREDITGUARD_PLATFORM_SECRET=... \\
        python examples/webhook_app.py --port 8080

or mount ``wsgi_app`` in gunicorn / ``asgi_app`` in uvicorn. It refuses to
start when the secret is unset or empty: a receiver that cannot verify would
take forged pushes (a forged ``record.removed`` would clear a listing). Events
are stored (durably) before the 2xx; a separate loop, here a thread, applies
them to the mirror once each with :meth:`PushFeed.apply_stored`.
"""

from __future__ import annotations

import argparse
import threading
from wsgiref.simple_server import make_server

from creditguard.channels import Channel, PushEvent, open_channel
from creditguard.config import load_config
from creditguard.errors import ConfigError
from creditguard.mirror import SqliteMirror
from creditguard.push_feed import FeedState, PushFeed
from creditguard.webhook import make_asgi_app, make_wsgi_app

CONFIG = load_config(None)


def build_channel() -> Channel:
    """The configured platform's channel; ConfigError (SecretMissing) when it cannot verify."""
    channel = open_channel(CONFIG)
    if channel is None:
        raise ConfigError("the configuration names no platform to receive pushes from")
    return channel


CHANNEL = build_channel()  # at import: gunicorn/uvicorn refuse to start without a secret
STATE = FeedState(CONFIG.data_dir / "sync-state.db")
stored = threading.Event()


def wake(_event: PushEvent) -> None:
    stored.set()


wsgi_app = make_wsgi_app(channel=CHANNEL, store=STATE, on_stored=wake)
asgi_app = make_asgi_app(channel=CHANNEL, store=STATE, on_stored=wake)


def apply_loop(mirror_path: str) -> None:
    """Apply stored events as they arrive (and every 5 s, to catch up after a restart)."""
    runner = PushFeed(SqliteMirror(mirror_path), STATE)
    while True:
        stored.wait(5.0)
        stored.clear()
        runner.apply_stored()


def main() -> None:
    parser = argparse.ArgumentParser(description="creditguard webhook receiver (example)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--mirror", default=str(CONFIG.data_dir / "mirror.db"))
    args = parser.parse_args()
    threading.Thread(target=apply_loop, args=(args.mirror,), daemon=True).start()
    with make_server(args.host, args.port, wsgi_app) as server:
        print(f"listening on http://{args.host}:{args.port}/ (any path)")
        server.serve_forever()


if __name__ == "__main__":
    main()
