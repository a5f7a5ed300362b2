"""The retry decision: what is retried, how long it waits, and the deadline."""

from __future__ import annotations

import pytest

from creditguard.errors import DeadlineExceeded, SourceRefused, SourceUnavailable
from creditguard.remote import RESPONSE_TOO_LARGE, Backoff, RemoteSettings, retry_delay

SETTINGS = RemoteSettings(backoff_initial=0.1, backoff_max=1.0, jitter=0.05, max_attempts=4)


def test_refusals_are_never_retried() -> None:
    error = SourceRefused("bad", status=400)
    with pytest.raises(SourceRefused):
        retry_delay(error, 1, now=0, deadline=100, settings=SETTINGS)


def test_oversized_answers_are_not_retried() -> None:
    error = SourceUnavailable("big", code=RESPONSE_TOO_LARGE)
    with pytest.raises(SourceUnavailable) as info:
        retry_delay(error, 1, now=0, deadline=100, settings=SETTINGS)
    assert info.value is error


def test_unavailable_is_retried_until_max_attempts() -> None:
    error = SourceUnavailable("503", status=503)
    assert 0.1 <= retry_delay(error, 1, now=0, deadline=100, settings=SETTINGS) <= 0.15
    with pytest.raises(SourceUnavailable) as info:
        retry_delay(error, 4, now=0, deadline=100, settings=SETTINGS)
    assert info.value is error


def test_retry_after_is_never_shortened() -> None:
    error = SourceUnavailable("429", status=429, retry_after=3)
    assert retry_delay(error, 1, now=0, deadline=100, settings=SETTINGS) == 3


def test_wait_past_the_deadline_gives_up_with_the_last_error_text() -> None:
    error = SourceUnavailable(
        "rate limited", source="p", status=429, code="RATE_LIMITED", retry_after=2
    )
    with pytest.raises(DeadlineExceeded) as info:
        retry_delay(error, 1, now=10.0, deadline=10.5, settings=SETTINGS)
    text = str(info.value)
    assert "rate limited" in text and "deadline" in text
    assert (
        info.value.status == 429 and info.value.code == "RATE_LIMITED" and info.value.source == "p"
    )
    assert text.count("p: ") == 1


def test_deadline_exceeded_itself_is_final() -> None:
    with pytest.raises(DeadlineExceeded):
        retry_delay(DeadlineExceeded("late"), 1, now=0, deadline=100, settings=SETTINGS)


def test_settings_validate() -> None:
    with pytest.raises(ValueError, match="deadline_s"):
        RemoteSettings(deadline_s=0)
    with pytest.raises(ValueError, match="jitter"):
        RemoteSettings(jitter=-1)
    assert RemoteSettings().max_response_bytes == 8 * 1024 * 1024


def test_no_backoff_is_drawn_once_the_deadline_has_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hundreds of checks cut at one deadline all come through here at once: the
    # answer is known without drawing a (random) wait.
    def drawn(self: Backoff, attempt: int) -> float:
        raise AssertionError("a backoff was drawn after the deadline")

    monkeypatch.setattr(Backoff, "delay", drawn)
    with pytest.raises(DeadlineExceeded, match="last error: timed out at the deadline"):
        retry_delay(
            SourceUnavailable("timed out at the deadline after 0.800 s", source="p"),
            1,
            now=10.0,
            deadline=10.0,
            settings=RemoteSettings(),
        )
