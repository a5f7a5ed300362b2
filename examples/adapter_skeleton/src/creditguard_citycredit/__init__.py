"""An adapter skeleton: copy this folder to start an adapter for a new data source."""

from creditguard_citycredit.source import CityCreditSource

__all__ = ["CityCreditSource"]
