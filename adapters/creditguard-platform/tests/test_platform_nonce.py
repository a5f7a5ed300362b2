"""Nonces (spec §2: 16 to 64 characters of ``[A-Za-z0-9]``), drawn with one OS read each."""

from __future__ import annotations

import re

import pytest
from creditguard_platform import auth
from creditguard_platform.auth import new_nonce


@pytest.mark.parametrize("length", [16, 24, 64])
def test_a_nonce_has_the_length_and_alphabet_of_the_spec(length: int) -> None:
    nonces = {new_nonce(length) for _ in range(200)}
    assert len(nonces) == 200
    assert all(re.fullmatch(f"[A-Za-z0-9]{{{length}}}", n) for n in nonces)


def test_bytes_that_would_favour_some_characters_are_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draws = iter([bytes([0, 61, 62, 247, 248, 255]), bytes([1, 2, 3, 250])])
    monkeypatch.setattr(auth.secrets, "token_bytes", lambda n: next(draws))
    # 248..255 would make the first eight characters likelier: skipped, and drawn again.
    assert new_nonce(7) == "A9A9BCD"
