"""``creditguard platform``: run the reference platform (a test server) on loopback."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from creditguard.agency_http import is_loopback_host
from creditguard.cli._common import EXIT_USAGE, fail
from creditguard.errors import CreditGuardError

__all__ = ["platform"]


@click.group()
def platform() -> None:
    """The reference credit platform, for demos and integration tests."""


@platform.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="0 picks a free port.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--data", "data_file", type=click.Path(exists=True, dir_okay=False), help="Records as JSONL."
)
@click.option(
    "--measures",
    "measure_files",
    type=click.Path(exists=True, dir_okay=False),
    multiple=True,
    help="Measure-list file (repeatable).",
)
@click.option(
    "--app-key", default="test-key", show_default=True, help="The app key the platform accepts."
)
@click.option(
    "--secret",
    envvar="CREDITGUARD_PLATFORM_SECRET",
    default="test-secret",
    help="Shared secret [default: test-secret].",
)
@click.option(
    "--base-path", default="/api", show_default=True, help="Path prefix of the API (spec §1)."
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Delay every answer by this much.",
)
@click.option(
    "--allow-remote", is_flag=True, help="Allow a non-loopback --host (this is a test server)."
)
def serve(
    port: int,
    host: str,
    data_file: str | None,
    measure_files: tuple[str, ...],
    app_key: str,
    secret: str,
    base_path: str,
    latency_ms: float,
    allow_remote: bool,
) -> None:
    """Serve platform API v1 from memory until interrupted (Ctrl-C)."""
    if not is_loopback_host(host) and not allow_remote:
        fail(
            f"--host {host} is not a loopback address; pass --allow-remote to serve a test server on it",
            code=EXIT_USAGE,
        )

    from creditguard.testing.data import load_jsonl, load_measure_files
    from creditguard.testing.reference import ReferencePlatform
    from creditguard.testing.server import serve as start

    ref = ReferencePlatform(
        base_path=base_path, app_key=app_key, secret=secret, latency=latency_ms / 1000
    )
    try:
        records = load_jsonl(ref, data_file) if data_file else 0
        regions = load_measure_files(ref, measure_files)
    except CreditGuardError as exc:
        fail(str(exc))
    try:
        running = start(ref, host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")

    stop = threading.Event()

    def _on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_term)
    click.echo(running.url)
    click.echo(
        f"app key {app_key}; {records} record(s); measure lists: {', '.join(regions) or 'none'}; Ctrl-C to stop",
        err=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
