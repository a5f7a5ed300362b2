"""``creditguard serve``: the decision service over HTTP (needs ``creditguard[server]``)."""

from __future__ import annotations

import click

from creditguard.errors import CreditGuardError

__all__ = ["serve"]


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="CREDITGUARD_SERVICE_CONFIG",
    required=True,
    help="The service file: [server], [[units]] and [[credentials]] (see docs/service.md).",
)
@click.option("--host", default=None, help="Address to listen on (default: [server] host).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: [server] port).")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Log level of the server.",
)
def serve(config_path: str, host: str | None, port: int | None, log_level: str) -> None:
    """Serve checks, screening, feedback, outbox status, health and metrics over HTTP.

    Every unit's guard is built before the port is opened, so a wrong file
    stops here with exit 1 and a message naming the file and field.
    """
    try:
        import uvicorn

        from creditguard.server import Service, create_app, load_service_config
    except ImportError as exc:
        raise click.ClickException(
            f"the decision service needs its extra: pip install 'creditguard[server]' ({exc.name})"
        ) from None
    try:
        cfg = load_service_config(config_path)
        service = Service.from_config(cfg)
    except CreditGuardError as exc:
        raise click.ClickException(str(exc)) from None
    app = create_app(service)
    uvicorn.run(
        app,
        host=host or cfg.server.host,
        port=cfg.server.port if port is None else port,
        log_level=log_level,
        # Bound what a slow or idle client can hold; the gate bounds the body itself.
        timeout_keep_alive=5,
        server_header=False,
    )
