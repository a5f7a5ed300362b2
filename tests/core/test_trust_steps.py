"""Unknown steps and non-text codes are typed errors, never decisions."""

from __future__ import annotations

from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, REGION

from creditguard import hookimpl
from creditguard.errors import ConfigError, InputError, InvalidCodeError, UnknownStepError
from creditguard.steps import KNOWN_STEPS, StepVocabulary

GuardFactory = Any


def test_misspelt_step_is_an_error_with_a_suggestion(guard: Any) -> None:
    with pytest.raises(UnknownStepError) as info:
        guard.check(ORG_CLEAN, step="procurment.bid", region=REGION)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, InputError)
    assert err.step == "procurment.bid" and err.suggestion == "procurement.bid"
    assert 'did you mean "procurement.bid"' in str(err)


class Observer:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def creditguard_decision_made(self, decision: Any, context: Any) -> None:
        self.seen.append(decision.decision_id)


def test_unknown_step_makes_no_decision(make_guard: GuardFactory) -> None:
    obs = Observer()
    g = make_guard(plugins=[obs])
    with pytest.raises(UnknownStepError):
        g.check(ORG_BLACK, step="housing.allocate", region=REGION)
    assert obs.seen == [] and len(g.cache) == 0  # no decision, nothing even looked up
    g.check(ORG_BLACK, step="procurement.bid", region=REGION)
    assert len(obs.seen) == 1  # the observer does see real decisions


@pytest.mark.parametrize("step", ["Procurement", "procurement.*", "", "procurement bid"])
def test_malformed_step_is_an_unknown_step(guard: Any, step: str) -> None:
    with pytest.raises(UnknownStepError):
        guard.check(ORG_CLEAN, step=step, region=REGION)


def test_declared_steps_are_accepted(make_guard: GuardFactory) -> None:
    g = make_guard({"guard": {"steps": ["housing.allocate"]}})
    assert g.check(ORG_CLEAN, step="housing.allocate", region=REGION).outcome == "allow"
    with pytest.raises(UnknownStepError, match=r"housing\.allocate"):
        g.check(ORG_CLEAN, step="housing.alocate", region=REGION)


def test_every_spec_step_is_known(guard: Any) -> None:
    for step in KNOWN_STEPS:
        assert guard.check(ORG_CLEAN, step=step, region=REGION).outcome == "allow"


def test_screen_raises_for_the_batch(guard: Any) -> None:
    with pytest.raises(UnknownStepError):
        guard.screen([ORG_BLACK, ORG_CLEAN], step="procurment.bid", region=REGION)


@pytest.mark.anyio
async def test_async_guard_raises_too(make_async_guard: GuardFactory) -> None:
    ag = make_async_guard()
    with pytest.raises(UnknownStepError, match=r"procurement\.bid"):
        await ag.check(ORG_CLEAN, step="procurment.bid", region=REGION)
    with pytest.raises(UnknownStepError):
        await ag.screen([ORG_CLEAN], step="procurment.bid", region=REGION)


def test_vocabulary_refuses_wildcards_in_declared_steps() -> None:
    with pytest.raises(ValueError, match="without wildcards"):
        StepVocabulary(["housing.*"])


@pytest.mark.parametrize("subject", [None, 91320100, b"91320100MA1W2K7D41", ["x"]])
def test_non_text_subject_is_an_invalid_code(guard: Any, subject: Any) -> None:
    with pytest.raises(InvalidCodeError, match="must be text"):
        guard.check(subject, step="procurement.bid", region=REGION)


@pytest.mark.anyio
async def test_async_non_text_subject_is_an_invalid_code(make_async_guard: GuardFactory) -> None:
    ag = make_async_guard()
    with pytest.raises(InvalidCodeError):
        await ag.check(None, step="procurement.bid", region=REGION)


def test_screen_reports_a_non_text_row_and_goes_on(guard: Any) -> None:
    rows = guard.screen([None, ORG_BLACK], step="procurement.bid", region=REGION)
    assert rows[0].outcome == "error" and "must be text" in (rows[0].error or "")
    assert rows[1].outcome == "deny"
    assert rows[0].as_dict()["outcome"] == "error"


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"failure": {"default": "allow", "steps": {"procurment.*": "hold"}}}, "[failure] steps"),
        ({"guard": {"commitment_steps": ["licensing.comitment"]}}, "commitment_steps"),
    ],
)
def test_step_patterns_in_the_config_must_match_a_step(
    make_guard: GuardFactory, config: dict[str, Any], where: str
) -> None:
    # A typo here would silently never apply: procurement would fall to "allow".
    with pytest.raises(ConfigError) as info:
        make_guard(config)
    assert where in str(info.value) and "did you mean" in str(info.value)


def test_declared_steps_count_for_config_patterns(make_guard: GuardFactory) -> None:
    g = make_guard(
        {"guard": {"steps": ["housing.allocate"]}, "failure": {"steps": {"housing.*": "raise"}}}
    )
    assert g.engine.failure.for_step("housing.allocate") == "raise"
