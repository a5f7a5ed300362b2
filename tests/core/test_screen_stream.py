"""Streaming screening (``iter_screen``): same rows as ``screen``, lazy input, bounded window."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Iterator
from contextlib import aclosing
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_FOCUS, PERSON_CLEAN, REGION

from creditguard.codes import uscc_check_char
from creditguard.engine import Fetch, Fetched
from creditguard.errors import InputError, UnknownStepError
from creditguard.screening import BLOCK_SIZE, ScreenResult


def org(n: int) -> str:
    body = f"91320100{n:09d}"
    return body + uscc_check_char(body)


class Counted:
    """An iterator over ``codes`` that counts how many were taken from it."""

    def __init__(self, codes: Iterable[str]) -> None:
        self._it = iter(codes)
        self.taken = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        code = next(self._it)
        self.taken += 1
        return code


def forever() -> Iterator[str]:
    """Endless input: a held subject, a bad code and clean ones, repeating."""
    for n in itertools.count():
        yield ORG_BLACK if n % 7 == 0 else ("oops" if n % 11 == 0 else org(n))


# Held, clean, invalid, a person and a focus subject, over more than two blocks.
MIXED = [ORG_BLACK, "9132010", ORG_CLEAN, "not a code", ORG_FOCUS, PERSON_CLEAN] * 210


def comparable(results: Iterable[ScreenResult]) -> list[dict[str, Any]]:
    """What must agree between two screenings (decision ids are new for each decision)."""
    return [
        {**{k: v for k, v in r.as_dict().items() if k != "decision_id"}, "text": r.input}
        for r in results
    ]


def test_iter_screen_gives_what_screen_gives(make_guard: Any) -> None:
    guard = make_guard()
    listed = guard.screen(MIXED, step="procurement.bid", region=REGION)
    streamed = list(guard.iter_screen(iter(MIXED), step="procurement.bid", region=REGION))
    assert len(streamed) == len(MIXED) == 1260
    assert [r.row for r in streamed] == list(range(1, 1261))
    assert comparable(streamed) == comparable(listed)
    assert {r.outcome for r in streamed} >= {"deny", "allow", "error"}


def test_iter_screen_reads_one_block_at_a_time(make_guard: Any) -> None:
    guard = make_guard()
    codes = Counted(forever())
    done: list[int] = []
    stream = guard.iter_screen(codes, step="procurement.bid", region=REGION, progress=done.append)
    assert codes.taken == 0  # nothing read before the first result is asked for
    first = next(stream)
    assert first.row == 1 and first.outcome == "deny"
    assert codes.taken == BLOCK_SIZE and done == [BLOCK_SIZE]
    rest = list(itertools.islice(stream, BLOCK_SIZE - 1))  # the first block's other rows
    assert rest[-1].row == BLOCK_SIZE and codes.taken == BLOCK_SIZE
    nxt = next(stream)  # the next block is read only now
    assert nxt.row == BLOCK_SIZE + 1 and codes.taken == 2 * BLOCK_SIZE
    # an endless input streams as long as it is consumed
    more = list(itertools.islice(stream, 3 * BLOCK_SIZE))
    assert more[-1].row == 4 * BLOCK_SIZE + 1 and codes.taken == 5 * BLOCK_SIZE
    assert sum(r.outcome == "error" for r in more) > 0  # bad codes stay on their rows


def test_a_bad_step_or_region_raises_before_anything_is_read(
    make_guard: Any, make_async_guard: Any
) -> None:
    guard, aguard = make_guard(), make_async_guard()
    for g in (guard, aguard):
        codes = Counted(forever())
        with pytest.raises(UnknownStepError):
            g.iter_screen(codes, step="procurement.bi", region=REGION)
        with pytest.raises(InputError):
            g.iter_screen(codes, step="procurement.bid", region="32010")
        assert codes.taken == 0
    # even an empty batch: a bad step is the caller's mistake, not "nothing to report"
    with pytest.raises(UnknownStepError):
        guard.screen([], step="Procurement Bid", region=REGION)
    with pytest.raises(InputError):
        aguard.iter_screen([], step="procurement.bid", region=REGION, concurrency=0)


@pytest.mark.anyio
async def test_async_iter_screen_gives_what_screen_gives(
    make_guard: Any, make_async_guard: Any
) -> None:
    sync = make_guard().screen(MIXED, step="licensing.approve", region=REGION)
    aguard = make_async_guard()
    listed = await aguard.screen(MIXED, step="licensing.approve", region=REGION, concurrency=3)
    streamed = [
        r
        async for r in aguard.iter_screen(
            iter(MIXED), step="licensing.approve", region=REGION, concurrency=3
        )
    ]
    assert [r.row for r in streamed] == list(range(1, len(MIXED) + 1))
    assert comparable(streamed) == comparable(listed) == comparable(sync)


class SlowFirst:
    """Stands in for ``AsyncGuard._perform``: earlier blocks answer later, so they finish last."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.in_flight = 0
        self.most = 0
        self.calls = 0

    async def __call__(self, op: Fetch, deadline: float) -> Fetched:
        self.calls += 1
        delay = max(0.0, 0.02 - 0.005 * self.calls)
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(delay)
            return await self.real(op, deadline)
        finally:
            self.in_flight -= 1


@pytest.mark.anyio
async def test_async_iter_screen_keeps_input_order_with_a_bounded_window(
    make_async_guard: Any,
) -> None:
    aguard = make_async_guard()
    aguard._probes.clear()  # clean codes, looked up: the mirror's probe would decide them at once
    slow = SlowFirst(aguard._perform)
    aguard._perform = slow
    codes = Counted(org(n) if n % 9 else "oops" for n in range(7 * BLOCK_SIZE + 3))
    done: list[int] = []
    rows = []
    async for r in aguard.iter_screen(
        codes, step="procurement.bid", region=REGION, concurrency=3, progress=done.append
    ):
        # never more than the window's blocks read ahead of the row handed out
        assert codes.taken <= r.row - 1 + 3 * BLOCK_SIZE
        rows.append(r)
    assert [r.row for r in rows] == list(range(1, 7 * BLOCK_SIZE + 4))
    assert [r.input for r in rows] == [org(n) if n % 9 else "oops" for n in range(len(rows))]
    assert [r.outcome for r in rows[:10]] == ["error"] + ["allow"] * 8 + ["error"]
    assert slow.most == 3  # three blocks were looked up at once, never more
    assert done == [BLOCK_SIZE] * 7 + [3]


@pytest.mark.anyio
async def test_async_iter_screen_reads_lazily_and_cancels_on_close(make_async_guard: Any) -> None:
    aguard = make_async_guard()
    slow = SlowFirst(aguard._perform)
    aguard._perform = slow
    codes = Counted(forever())
    async with aclosing(
        aguard.iter_screen(codes, step="procurement.bid", region=REGION, concurrency=2)
    ) as stream:
        assert codes.taken == 0
        first = await anext(stream)
        assert first.row == 1 and first.outcome == "deny"
        assert codes.taken == 2 * BLOCK_SIZE  # the window: this block and the next
    assert slow.in_flight == 0  # closing cancelled what was still in flight
    assert codes.taken == 2 * BLOCK_SIZE
