"""Example channel distribution: the fictional Province X platform (see README.md)."""

from creditguard_provx.channel import ProvXChannel, px_signature

__all__ = ["ProvXChannel", "px_signature"]
