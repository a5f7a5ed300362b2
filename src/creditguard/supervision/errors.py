"""Errors of the supervision lifecycle: a request that breaks a rule, and no rule set at all."""

from __future__ import annotations

from datetime import date

from creditguard.errors import CreditGuardError, InputError

__all__ = ["NoRuleSetConfigured", "RuleBroken", "UnknownListing"]


class RuleBroken(InputError):
    """A lifecycle request breaks a rule of the pack in force; nothing was recorded or sent.

    ``rule`` is the rule's identifier (``interview.once_per_listing`` …),
    ``pack`` the rule pack that holds it, ``reason`` the explanation.
    """

    def __init__(self, rule: str, reason: str, *, pack: str = "") -> None:
        self.rule = rule
        self.pack = pack
        self.reason = reason
        where = f" ({pack})" if pack else ""
        super().__init__(f"refused by rule {rule}{where}: {reason}")


class NoRuleSetConfigured(CreditGuardError):
    """No rule pack is in force or adopted for this region and date: nothing is enforced or recorded.

    Notice 893 expired on 2020-12-31 (FACTS §4.1); for later dates a region
    names the pack it follows in ``[supervision] rules``.
    """

    def __init__(self, region: str, day: date, *, what: str = "supervision lifecycle") -> None:
        self.region = region
        self.day = day
        super().__init__(
            f"no rule set is configured for the {what} of region {region or '(none)'} on {day}: "
            "notice 893 (发改办财金〔2018〕893号) was in force only 2018-07-24 … 2020-12-31; name the "
            "pack this region follows in [supervision] rules (it may adopt 'notice-893-2018')"
        )


class UnknownListing(InputError):
    """The lifecycle knows no listing with this record id (register the record first)."""
