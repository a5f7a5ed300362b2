"""How an integrator tests their own workflow with creditguard's pytest plugin.

The ``creditguard_platform`` fixture is a reference credit platform served on
loopback; ``creditguard_guard`` is a guard wired to it (installed with
creditguard, no conftest needed). This is USER-JOURNEYS §1, runnable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditguard.case_desk import StepDenied


@dataclass
class BidResult:
    rejected: bool


class ProcurementApp:
    """A stand-in for the integrator's procurement system."""

    def __init__(self, guard: Any) -> None:
        @guard.step("procurement.bid", region="320100", subject=lambda code: code)
        def submit(code: str) -> str:
            return "accepted"

        self._submit = submit

    def submit_bid(self, code: str) -> BidResult:
        try:
            self._submit(code)
        except StepDenied:
            return BidResult(rejected=True)
        return BidResult(rejected=False)


def test_blacklisted_supplier_cannot_bid(creditguard_platform: Any, creditguard_guard: Any) -> None:
    app = ProcurementApp(creditguard_guard)
    creditguard_platform.add_record(
        "91320100MA1W2K7D41", list_kind="blacklist", domain="court_enforcement"
    )
    assert app.submit_bid("91320100MA1W2K7D41").rejected
    assert creditguard_guard.deliver_now()
    feedback = creditguard_platform.feedback_for("91320100MA1W2K7D41")
    assert feedback[0]["action"] == "denied"


def test_clean_supplier_bids_and_nothing_is_reported(
    creditguard_platform: Any, creditguard_guard: Any
) -> None:
    app = ProcurementApp(creditguard_guard)
    assert not app.submit_bid("91110000710925462X").rejected
    assert creditguard_guard.deliver_now()
    assert creditguard_platform.feedback_for("91110000710925462X") == []
    assert all(
        c.get("subject_code") != "91110000710925462X" for c in creditguard_platform.cases.values()
    )
