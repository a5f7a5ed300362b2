"""A webhook receiver for platform pushes (spec §7.2), as a WSGI and an ASGI app.

Run it with the standard library's server (for trying it out)::

    CREDITGUARD_SECRET=... python examples/webhook_app.py --port 8080 --app-key platform-key

or mount ``wsgi_app`` in gunicorn / ``asgi_app`` in uvicorn. Events are
stored (durably) before the 2xx; a separate loop, here a thread, applies
them to the mirror once each with :meth:`PushSync.apply_stored`.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Mapping
from typing import Any
from wsgiref.simple_server import make_server

from creditguard.mirror import SqliteMirror
from creditguard.sync import PushSync, SyncState
from creditguard.webhook import make_asgi_app, make_wsgi_app

STATE = SyncState(os.environ.get("CREDITGUARD_SYNC_STATE", "var/sync-state.db"))
SECRETS = {
    os.environ.get("CREDITGUARD_APP_KEY", "platform-key"): os.environ.get("CREDITGUARD_SECRET", "")
}
stored = threading.Event()


def wake(_event: Mapping[str, Any]) -> None:
    stored.set()


wsgi_app = make_wsgi_app(secrets=SECRETS, store=STATE, on_stored=wake)
asgi_app = make_asgi_app(secrets=SECRETS, store=STATE, on_stored=wake)


def apply_loop(mirror_path: str) -> None:
    """Apply stored events as they arrive (and every 5 s, to catch up after a restart)."""
    runner = PushSync(SqliteMirror(mirror_path), STATE)
    while True:
        stored.wait(5.0)
        stored.clear()
        runner.apply_stored()


def main() -> None:
    parser = argparse.ArgumentParser(description="creditguard webhook receiver (example)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--mirror", default="var/mirror.db")
    args = parser.parse_args()
    if not all(SECRETS.values()):
        raise SystemExit("set CREDITGUARD_SECRET (and CREDITGUARD_APP_KEY) first")
    threading.Thread(target=apply_loop, args=(args.mirror,), daemon=True).start()
    with make_server(args.host, args.port, wsgi_app) as server:
        print(f"listening on http://{args.host}:{args.port}/ (any path)")
        server.serve_forever()


if __name__ == "__main__":
    main()
