"""The decision service: ``creditguard serve`` (install ``creditguard[server]``).

A sidecar for systems that cannot import Python (a Java approval system,
say): the guard's check, screen, feedback and outbox status over HTTP, with
health, readiness and Prometheus metrics, bearer-token or spec §2 signed
authentication and per-unit authorisation. See docs/service.md.

::

    from creditguard.server import Service, create_app, load_service_config

    app = create_app(Service.from_config(load_service_config("service.toml")))
"""

from __future__ import annotations

from creditguard.server.app import create_app
from creditguard.server.config import ServiceConfig, load_service_config, service_config_from_dict
from creditguard.server.service import Service

__all__ = [
    "Service",
    "ServiceConfig",
    "create_app",
    "load_service_config",
    "service_config_from_dict",
]
