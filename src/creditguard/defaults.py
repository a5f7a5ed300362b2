"""Built-in defaults, registered after every other plugin (and called last).

They contribute the embedded SQLite mirror as source type ``mirror`` and
the supervision store (persons named for a listing, notice 893 §8) as
``supervision``; a plugin that registers the same type name replaces it.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from creditguard.hookspecs import hookimpl

__all__ = ["MIRROR_OPTIONS", "creditguard_register_sources", "mirror_source"]

#: The options a ``[[sources]]`` entry of type ``mirror`` accepts.
MIRROR_OPTIONS = ("path", "max_age_s")


def mirror_source(
    *,
    name: str,
    path: str | None = None,
    max_age_s: Any = None,
    data_dir: str | os.PathLike[str] = ".creditguard",
    base_dir: str | os.PathLike[str] = ".",
    **unknown: Any,
) -> Any:
    """Build the mirror source (``path`` defaults to ``<data_dir>/mirror.db``).

    A ``path`` of ``postgresql://…`` (a libpq URL) builds a
    :class:`~creditguard.mirror.PostgresMirror` shared by several hosts;
    anything else is a SQLite file.

    ``max_age_s`` (default :data:`creditguard.mirror.DEFAULT_MAX_AGE_S`, one
    day) is how long after its last import or sync the mirror still answers;
    older, and every check using it is unverified. Building the source never
    creates the file: a missing file makes lookups unavailable.
    """
    from creditguard.errors import ConfigError
    from creditguard.mirror import DEFAULT_MAX_AGE_S, PostgresMirror, SqliteMirror, is_postgres_dsn

    where = f"source {name!r} (type mirror)"
    if unknown:
        bad = sorted(unknown)[0]
        close = difflib.get_close_matches(bad, MIRROR_OPTIONS, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        raise ConfigError(
            f"{where}: unknown option(s) {', '.join(sorted(unknown))}{hint}; "
            f"known: {', '.join(MIRROR_OPTIONS)}"
        )
    if max_age_s is None:
        max_age_s = DEFAULT_MAX_AGE_S
    elif (
        isinstance(max_age_s, bool)
        or not isinstance(max_age_s, (int, float))
        or not math.isfinite(max_age_s)
        or max_age_s <= 0
    ):
        raise ConfigError(
            f"{where}: max_age_s must be a positive number of seconds (e.g. 86400), "
            f"not {max_age_s!r}"
        )
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise ConfigError(f"{where}: path must be a file name, not {path!r}")
    if path is not None and is_postgres_dsn(path.strip()):
        return PostgresMirror(path.strip(), name=name, max_age_s=max_age_s)
    if path is None:
        full = Path(data_dir) / "mirror.db"
    else:
        p = Path(path).expanduser()
        full = p if p.is_absolute() else Path(base_dir) / p
    return SqliteMirror(full, name=name, max_age_s=max_age_s)


@hookimpl(trylast=True)
def creditguard_register_sources(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register the embedded mirror as source type ``mirror``, the supervision store as ``supervision``."""
    from creditguard.supervision.source import supervision_source

    register("mirror", mirror_source)
    register("supervision", supervision_source)
