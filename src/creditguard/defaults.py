"""Built-in defaults, registered after every other plugin (and called last).

They contribute the embedded SQLite mirror as source type ``mirror``; a
plugin that registers the same type name replaces it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from creditguard.hookspecs import hookimpl

__all__ = ["creditguard_register_sources", "mirror_source"]


def mirror_source(
    *,
    name: str,
    path: str | None = None,
    data_dir: str | os.PathLike[str] = ".creditguard",
    base_dir: str | os.PathLike[str] = ".",
    **unknown: Any,
) -> Any:
    """Build the SQLite mirror source (``path`` defaults to ``<data_dir>/mirror.db``)."""
    from creditguard.errors import ConfigError
    from creditguard.mirror import SqliteMirror

    if unknown:
        raise ConfigError(
            f"source {name!r} (type mirror): unknown option(s) {', '.join(sorted(unknown))}"
        )
    if path is None:
        full = Path(data_dir) / "mirror.db"
    else:
        p = Path(path).expanduser()
        full = p if p.is_absolute() else Path(base_dir) / p
    return SqliteMirror(full, name=name)


@hookimpl(trylast=True)
def creditguard_register_sources(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register the embedded mirror as source type ``mirror``."""
    register("mirror", mirror_source)
