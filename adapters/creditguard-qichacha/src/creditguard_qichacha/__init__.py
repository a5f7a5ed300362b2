"""creditguard source for Qichacha's (企查查) dishonest-debtor check (失信核查, ``ShixinCheck``).

Configure it as a ``[[sources]]`` table with ``type = "qichacha"``; see
:func:`create_source` for the options and the README for why its listings are
possible matches rather than records unless they carry an identifier.
"""

from __future__ import annotations

from creditguard_qichacha.source import QichachaSource, create_source

__all__ = ["QichachaSource", "create_source"]
__version__ = "0.1.0"
