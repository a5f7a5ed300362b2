"""Batch screening: many subjects against one step, in blocks, in input order.

Both guards share this planning and assembly; they differ only in how a
block's lookups are sent (sequentially, or concurrently on the event loop).
One bad code is reported on its own row and never fails the batch; a bad step
or region fails it before the first row (:func:`check_target`).

``iter_screen`` on either guard streams results block by block and reads its
input lazily, so memory stays bounded whatever the batch size; ``screen`` is
``list(iter_screen(...))`` for batches small enough to hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

# _check_region: the engine's one region rule, applied here before the first block.
from creditguard.engine import Engine, Fetch, Fetched, Plan, _check_region
from creditguard.errors import CreditGuardError, InvalidCodeError
from creditguard.masking import mask_code
from creditguard.models import Decision

__all__ = [
    "BLOCK_SIZE",
    "Block",
    "ScreenResult",
    "blocks",
    "check_target",
    "finish_block",
    "plan_block",
]

#: Subjects planned, fetched and decided together (the platform's batch limit).
BLOCK_SIZE = 500

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ScreenResult:
    """One input row: its decision, or the error that kept it from one."""

    row: int
    input: str
    decision: Decision | None = None
    error: str | None = None

    @property
    def outcome(self) -> str:
        """The decision's outcome, or ``"error"``."""
        return self.decision.outcome if self.decision is not None else "error"

    def as_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready summary (resident ID numbers masked)."""
        d = self.decision
        return {
            "row": self.row,
            # str(): a library caller may pass a non-text row (reported as that row's error).
            "input": mask_code(str(self.input).strip()) if d is None else d.subject_display,
            "outcome": self.outcome,
            "measures": [m.code for m in d.measures] if d else [],
            "verified": d.verified if d else None,
            "degraded_reason": d.degraded_reason if d else None,
            "decision_id": d.decision_id if d else None,
            "error": self.error,
        }


@dataclass(slots=True)
class Block:
    """A block in progress: rows with their plans (or errors) and the grouped lookups."""

    #: each row's plan, or its decision already made (a clean subject a probe vouched for)
    rows: list[tuple[int, str, Plan | Decision | None, str | None]]
    fetches: list[Fetch]


def blocks(codes: Iterable[str], size: int = BLOCK_SIZE) -> Iterator[list[tuple[int, str]]]:
    """Number the inputs (from 1) and cut them into blocks."""
    block: list[tuple[int, str]] = []
    for i, code in enumerate(codes, start=1):
        block.append((i, code))
        if len(block) >= size:
            yield block
            block = []
    if block:
        yield block


def check_target(engine: Engine, *, step: str, region: str, as_of: date | None) -> None:
    """Raise now what would fail every row: a bad step or region, or no list in force.

    Called when a screening starts, so a stream fails before its first result
    (and an empty batch with a bad step fails too) rather than somewhere
    inside a long run. Raises what :meth:`Engine.plan` would raise for them
    (:class:`~creditguard.errors.UnknownStepError`,
    :class:`~creditguard.errors.InputError`, :class:`~creditguard.errors.ConfigError`).
    """
    engine.steps.require(step)
    _check_region(region)
    engine.catalog.resolve(region, as_of if as_of is not None else engine.today())


def plan_block(
    engine: Engine,
    rows: Sequence[tuple[int, str]],
    *,
    step: str,
    region: str,
    as_of: date | None,
    context: Mapping[str, Any] | None,
    quick: Callable[[Plan], Decision | None] | None = None,
) -> Block:
    """Plan every row; group what must be fetched into one lookup per source.

    A bad code becomes that row's error; a bad step or region (or a region
    without a measure list) concerns the whole batch and is raised.
    ``quick`` decides a row without fetching when it can (the guard's clean
    subjects by membership probe); rows it returns None for are fetched.
    """
    planned: list[tuple[int, str, Plan | Decision | None, str | None]] = []
    wanted: dict[tuple[str, bool], dict[str, None]] = {}
    for row, text in rows:
        try:
            plan = engine.plan(text, step=step, region=region, as_of=as_of, context=context)
        except InvalidCodeError as exc:
            planned.append((row, text, None, str(exc)))
            continue
        if plan.missing and quick is not None and (decided := quick(plan)) is not None:
            planned.append((row, text, decided, None))
            continue
        planned.append((row, text, plan, None))
        for f in plan.missing:
            wanted.setdefault((f.source, f.include_related), {}).update(dict.fromkeys(f.codes))
    fetches = [Fetch(source, tuple(codes), related) for (source, related), codes in wanted.items()]
    return Block(planned, fetches)


def finish_block(engine: Engine, block: Block, answers: Sequence[Fetched]) -> list[ScreenResult]:
    """Decide every planned row from the grouped answers."""
    by_group = {
        (f.source, f.include_related): a for f, a in zip(block.fetches, answers, strict=True)
    }
    out: list[ScreenResult] = []
    for row, text, plan, error in block.rows:
        if plan is None:
            out.append(ScreenResult(row, text, None, error))
            continue
        if isinstance(plan, Decision):
            out.append(ScreenResult(row, text, plan))
            continue
        try:
            got = [by_group[(f.source, f.include_related)] for f in plan.missing]
            # Not cached: a batch would evict the warm subjects of the checks beside it.
            out.append(ScreenResult(row, text, engine.finish(plan, got, remember=False)))
        except CreditGuardError as exc:  # e.g. RecordsUnavailable under the "raise" policy
            out.append(ScreenResult(row, text, None, str(exc)))
    return out
