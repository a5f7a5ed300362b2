"""Serve a reference platform over real HTTP/1.1 on loopback, in a background thread.

::

    with serve(ReferencePlatform()) as running:
        httpx.get(running.url + "/v1/pushes", ...)

One thread per connection (keep-alive honoured, Nagle off), so 64 concurrent
client connections are served in parallel. Faults are played at the socket
level: a reset is a TCP RST (``SO_LINGER`` 0), a truncated body a short read
against its ``Content-Length``, a drip a slowly written body, an oversize body
a long chunked stream.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from creditguard.testing.api import Answer, Call
from creditguard.testing.reference import Plan, ReferencePlatform

__all__ = ["RunningServer", "serve"]

# Bodies beyond this are refused unread (the API's own limit, 1 MiB, is checked later).
_MAX_READ = 16 * 1024 * 1024
_JSON = (("Content-Type", "application/json"),)
_TOO_LARGE = Answer(
    413,
    b'{"error":{"code":"PAYLOAD_TOO_LARGE","message":"body too large","request_id":"-"}}',
    _JSON,
)
_BAD_LENGTH = Answer(
    400,
    b'{"error":{"code":"INVALID_ARGUMENT","message":"bad Content-Length","request_id":"-"}}',
    _JSON,
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], platform: ReferencePlatform) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.platform = platform
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-request are routine here (resets, timeouts, stop()).
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Wake threads blocked on idle keep-alive connections so they end."""
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60  # an idle keep-alive connection is dropped after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: request lines may carry resident ID numbers."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        plan = self.server.platform.plan(Call(self.command, path, query, headers, body))
        if plan.delay:
            time.sleep(plan.delay)
        try:
            self._play(plan)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._write_answer(_BAD_LENGTH)
            return None
        if length > _MAX_READ:
            self.close_connection = True
            self._write_answer(_TOO_LARGE)
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > _MAX_READ:
                self.close_connection = True
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _play(self, plan: Plan) -> None:
        if plan.action in ("reset", "refuse"):
            self._reset()
        elif plan.action == "oversize":
            self._stream_oversize(plan)
        elif plan.action == "drip":
            assert plan.answer is not None
            self._write_head(plan.answer, len(plan.answer.body))
            for chunk, pause in plan.drip_chunks():
                self.wfile.write(chunk)
                time.sleep(pause)
        elif plan.action == "truncate":
            assert plan.answer is not None
            self._write_head(plan.answer, len(plan.answer.body))
            self.wfile.write(plan.answer.body[: len(plan.answer.body) // 2])
            # Closing now leaves the client short of the announced Content-Length.
            self.close_connection = True
        else:
            assert plan.answer is not None
            self._write_answer(plan.answer)

    def _write_head(self, answer: Answer, length: int | None) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        elif answer.status != 304:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _write_answer(self, answer: Answer) -> None:
        body = b"" if answer.status == 304 else answer.body
        self._write_head(answer, len(body))
        if body:
            self.wfile.write(body)

    def _stream_oversize(self, plan: Plan) -> None:
        self._write_head(Answer(200, headers=(("Content-Type", "application/json"),)), None)
        for chunk in plan.oversize_chunks():
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


class RunningServer:
    """A reference platform served on loopback; ``url`` includes the base path."""

    def __init__(self, platform: ReferencePlatform, host: str = "127.0.0.1", port: int = 0) -> None:
        self.platform = platform
        self._server = _Server((host, port), platform)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="creditguard-platform",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The base URL clients configure, e.g. ``http://127.0.0.1:50123/api``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.platform.base_path}"

    def stop(self) -> None:
        """Stop accepting, drop open connections and wait for the serving thread."""
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer(url={self.url!r})"


def serve(platform: ReferencePlatform, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start serving ``platform`` on ``host:port`` (0: an ephemeral port) in a background thread."""
    return RunningServer(platform, host, port)
