"""creditguard source for Tianyancha's (天眼查) dishonest judgment debtors (失信被执行人).

Configure it as a ``[[sources]]`` table with ``type = "tianyancha"``; see
:func:`create_source` for the options and the README for matching rules and
error mapping.
"""

from __future__ import annotations

from creditguard_tianyancha.source import TianyanchaSource, create_source

__all__ = ["TianyanchaSource", "create_source"]
__version__ = "0.1.0"
