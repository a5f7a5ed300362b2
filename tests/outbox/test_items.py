"""Idempotency keys and item validation."""

from __future__ import annotations

import pytest

from creditguard.outbox import OutboxItem, idempotency_key


def test_key_is_deterministic_and_distinct_per_part() -> None:
    a = idempotency_key("320100-CG", "320100-CG-D1", "feedback", "S-01")
    assert a == idempotency_key("320100-CG", "320100-CG-D1", "feedback", "S-01")
    assert len(a) == 64
    others = {
        idempotency_key("320100-CG", "320100-CG-D1", "feedback", "S-02"),
        idempotency_key("320100-CG", "320100-CG-D2", "feedback", "S-01"),
        idempotency_key("320100-CG", "320100-CG-D1", "response", "S-01"),
        idempotency_key("320200-CG", "320100-CG-D1", "feedback", "S-01"),
    }
    assert a not in others and len(others) == 4


def test_item_rejects_bad_key_and_kind() -> None:
    with pytest.raises(ValueError, match="1 to 128"):
        OutboxItem(key="", kind="case", payload=b"{}")
    with pytest.raises(ValueError, match="1 to 128"):
        OutboxItem(key="k" * 129, kind="case", payload=b"{}")
    with pytest.raises(ValueError, match="kind"):
        OutboxItem(key="k", kind="cases", payload=b"{}")  # type: ignore[arg-type]


def test_items_hold_facts_not_requests() -> None:
    # The wire format lives in the platform adapter: nothing in an item names a URL.
    from dataclasses import fields

    assert {f.name for f in fields(OutboxItem)} == {"key", "kind", "payload", "group"}
