"""``models.trusted()`` writes pydantic's instance state directly: prove it against ``model_validate``.

Every model the product builds with ``trusted()`` (decisions, their records,
measures and provenance, mirror answers) is taken from real checks and must be
indistinguishable from the same values validated by pydantic: same dump, same
JSON, equal, hashable, copyable, picklable, every field marked as set. A
pydantic release that changes the instance layout fails here first.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_FOCUS, REGION, REP, DownSource
from pydantic import BaseModel

from creditguard import hookimpl
from creditguard.models import (
    AppliedMeasure,
    Decision,
    EffectiveRecord,
    Measure,
    Provenance,
    SubjectRecords,
    trusted,
)
from creditguard.rules import applied

GuardFactory = Any

#: Every model the product builds through trusted() (grep "trusted(" under src/).
TRUSTED_MODELS = {AppliedMeasure, Decision, EffectiveRecord, Provenance, SubjectRecords}


def _walk(obj: object) -> Iterator[BaseModel]:
    if isinstance(obj, BaseModel):
        yield obj
        for name in type(obj).model_fields:
            yield from _walk(getattr(obj, name))
    elif isinstance(obj, tuple | list):
        for item in obj:
            yield from _walk(item)


class _Extra:
    @hookimpl
    def creditguard_extra_measures(self, records: Any) -> Any:
        m = Measure.model_validate(
            {
                "code": "X-1",
                "title": "附加措施",
                "category": "management",
                "legal_basis": ["《中华人民共和国政府采购法》第二十二条"],
                "applies_to": {"list_kinds": ["blacklist", "focus"], "steps": ["*"]},
                "effect": "notify",
            }
        )
        return [applied(m, records, origin="plugin:x")]


@pytest.fixture
def built(make_guard: GuardFactory, mirror: Any) -> list[BaseModel]:
    """Objects the product built with trusted(), from real checks and lookups."""
    g = make_guard({"failure": {"default": "hold"}}, plugins=[_Extra()])
    g_down = make_guard(
        {"failure": {"default": "hold"}}, sources=[mirror, DownSource()], plugins=[_Extra()]
    )
    decisions = [
        g.check(ORG_BLACK, step="procurement.bid", region=REGION),
        g.check(ORG_FOCUS, step="licensing.accept", region=REGION),
        g.check(REP, step="procurement.bid", region=REGION),
        g_down.check(ORG_BLACK, step="procurement.bid", region=REGION),  # a failed source
        g_down.check(ORG_CLEAN, step="procurement.bid", region=REGION),
    ]
    answers = mirror.lookup([ORG_BLACK, ORG_CLEAN, REP], include_related=True)
    every = [m for root in [*decisions, *answers.values()] for m in _walk(root)]
    return [m for m in every if type(m) in TRUSTED_MODELS]


def _fields(obj: BaseModel) -> dict[str, object]:
    return {name: getattr(obj, name) for name in type(obj).model_fields}


def test_real_checks_build_every_trusted_model(built: list[BaseModel]) -> None:
    assert {type(m) for m in built} >= TRUSTED_MODELS


def test_trusted_objects_carry_exactly_their_fields(built: list[BaseModel]) -> None:
    for obj in built:
        cls = type(obj)
        computed = set(cls.model_computed_fields)
        assert set(obj.__dict__) - computed == set(cls.model_fields), cls.__name__
        assert obj.model_fields_set == set(cls.model_fields), cls.__name__
        assert obj.__pydantic_extra__ is None and obj.__pydantic_private__ is None


def test_trusted_objects_equal_their_validated_twins(built: list[BaseModel]) -> None:
    for obj in built:
        cls = type(obj)
        twin = cls.model_validate(_fields(obj))
        assert twin == obj and obj == twin, cls.__name__
        assert twin.model_dump() == obj.model_dump(), cls.__name__
        assert twin.model_dump_json() == obj.model_dump_json(), cls.__name__
        assert hash(twin) == hash(obj), cls.__name__
        again = cls.model_validate_json(obj.model_dump_json())
        assert again.model_dump() == obj.model_dump(), cls.__name__


def test_trusted_objects_copy_and_pickle(built: list[BaseModel]) -> None:
    for obj in built:
        cls = type(obj)
        before = set(cls.model_fields)
        first = next(iter(cls.model_fields))
        copy = obj.model_copy(update={first: getattr(obj, first)})
        assert copy == obj and copy.model_dump() == obj.model_dump(), cls.__name__
        assert pickle.loads(pickle.dumps(obj)) == obj, cls.__name__
        # trusted() shares one fields-set per class: pydantic must never change it in place.
        assert obj.model_fields_set == before == copy.model_fields_set, cls.__name__


def test_trusted_objects_stay_frozen(built: list[BaseModel]) -> None:
    for obj in built:
        first = next(iter(type(obj).model_fields))
        with pytest.raises(Exception, match="frozen"):
            setattr(obj, first, getattr(obj, first))


def test_decision_explanation_is_the_same_for_both_builds(built: list[BaseModel]) -> None:
    decisions = [d for d in built if isinstance(d, Decision)]
    assert decisions
    for d in decisions:
        twin = Decision.model_validate(_fields(d))
        assert twin.explanation == d.explanation
        assert Decision.model_validate_json(d.model_dump_json()).explanation == d.explanation


def test_trusted_rejects_nothing_but_trusts_the_caller() -> None:
    # What trusted() is for: values already validated; a direct call shows the contract.
    p = trusted(
        Provenance,
        source="mirror",
        fetched_at=Provenance.model_validate(
            {"source": "m", "fetched_at": "2025-01-01T00:00:00+08:00"}
        ).fetched_at,
        stale=False,
        found=True,
        error=None,
        data_as_of=None,
    )
    assert p == Provenance.model_validate(_fields(p))
