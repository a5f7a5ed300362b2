"""``--unmask``: show resident ID numbers whole, for officers, and record that it happened.

Default output masks every resident ID number (README, "Personal data").
``--unmask`` shows them whole only after a row is written to the decision
journal's file (:mod:`creditguard.unmask_log`); with no journal configured,
with a journal in PostgreSQL (which does not keep the unmask log yet), or when
the row cannot be written, the command shows nothing and exits non-zero.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from creditguard.cli._common import EXIT_USAGE, fail
from creditguard.errors import CreditGuardError

if TYPE_CHECKING:
    from creditguard._journal_base import QueuedJournal

__all__ = ["UNMASK_HELP", "disclose", "journal_path_of_config", "unmask_log_of", "unmask_option"]

UNMASK_HELP = (
    "Show resident ID numbers whole (for officers who need them). "
    "Recorded in the decision journal first; refused without a journal."
)

_F = TypeVar("_F", bound=Callable[..., object])

_IN_POSTGRESQL = (
    "--unmask is recorded in a SQLite journal file; this configuration's journal is in "
    "PostgreSQL, where the unmask log is not kept yet"
)


def unmask_option(f: _F) -> _F:
    """The ``--unmask`` flag, the same in every command that offers it."""
    return click.option("--unmask", is_flag=True, help=UNMASK_HELP)(f)


def journal_path_of_config(config_path: str | None) -> Path:
    """The journal file of the configuration, or exit 2 when there is none to record in."""
    from creditguard.config import load_config

    if config_path is None:
        fail(
            "--unmask is recorded in the decision journal: give --config "
            "(or set CREDITGUARD_CONFIG) so the journal is known",
            code=EXIT_USAGE,
        )
    try:
        cfg = load_config(config_path)
    except CreditGuardError as exc:
        fail(str(exc), code=EXIT_USAGE)
    if not cfg.journal.enabled:
        fail(
            "--unmask is recorded in the decision journal, which this configuration disables",
            code=EXIT_USAGE,
        )
    from creditguard.journal_pg import is_dsn

    if cfg.journal.path and is_dsn(cfg.journal.path.strip()):
        # Disclosures are recorded in a SQLite journal file only (not yet in PostgreSQL):
        # refuse rather than unmask without the record.
        fail(_IN_POSTGRESQL, code=EXIT_USAGE)
    return cfg.path(cfg.journal.path) if cfg.journal.path else cfg.data_dir / "journal.db"


def unmask_log_of(journal: QueuedJournal | None) -> Path | None:
    """The file that records ``--unmask`` for a guard's journal (None: no journal).

    A PostgreSQL journal exits 2: its ``path`` only names it for messages, and
    recording there is not built yet, so nothing is shown unmasked.
    """
    from creditguard.journal import DecisionJournal

    if journal is None:
        return None
    if not isinstance(journal, DecisionJournal):
        fail(_IN_POSTGRESQL, code=EXIT_USAGE)
    return Path(journal.path)


def disclose(
    journal_path: str | os.PathLike[str] | None,
    *,
    command: str,
    subjects: list[str],
    decision_id: str | None = None,
) -> None:
    """Record the disclosure before anything is shown; exit when it cannot be recorded."""
    from creditguard.unmask_log import record_unmasking

    if journal_path is None:
        fail("--unmask is recorded in the decision journal, which is disabled", code=EXIT_USAGE)
    try:
        record_unmasking(journal_path, command=command, subjects=subjects, decision_id=decision_id)
    except CreditGuardError as exc:
        fail(f"nothing shown unmasked: {exc}")
