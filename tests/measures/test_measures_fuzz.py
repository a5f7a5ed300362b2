"""Fuzzed measure-list files (issue 8, "Beyond the list"): every input gives a valid list or a
typed :class:`MeasureListError` whose every problem names the file and a line or field."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditguard.errors import MeasureListError
from creditguard.measures import parse_measure_list
from creditguard.models import MeasureList

NAME = "fuzz.toml"

GOOD: dict[str, Any] = {
    "region": "320100",
    "version": "2026.1",
    "issued_by": "南京市社会信用体系建设领导小组办公室",
    "published_on": "2026-01-01",
    "effective_from": "2026-01-01",
    "measures": [
        {
            "code": "NJ-01",
            "title": "禁止参加政府采购活动",
            "category": "rights_limiting",
            "legal_basis": [
                {"title": "《中华人民共和国政府采购法》", "article": "第七十七条", "level": "law"}
            ],
            "applies_to": {
                "list_kinds": ["blacklist"],
                "domains": ["procurement"],
                "steps": ["procurement.*"],
            },
            "effect": "deny",
        }
    ],
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(
        ["deny", "restrict", "rights_limiting", "law", "blacklist", "procurement.*", "*", "000000"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "region", "version", "issued_by", "published_on", "effective_from", "extends", "withdraws",
    "measures", "standing", "code", "title", "category", "legal_basis", "applies_to", "effect",
    "extends_to", "list_kinds", "domains", "steps", "level", "article",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """The good list with a few fields replaced, removed or added, at top level or in a measure."""
    data = json.loads(json.dumps(GOOD))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(
            st.sampled_from(
                [
                    (),
                    ("measures", 0),
                    ("measures", 0, "applies_to"),
                    ("measures", 0, "legal_basis", 0),
                ]
            )
        )
        target: Any = data
        for step in path:  # an earlier mutation may have replaced a parent
            ok = (isinstance(target, dict) and step in target) or (
                isinstance(target, list) and isinstance(step, int) and step < len(target)
            )
            target = target[step] if ok else None
        if not isinstance(target, dict):
            continue
        key = draw(st.sampled_from([*KEYS, *sorted(target)]))
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(values)
    return data


def _judge(text: str, fmt: str) -> None:
    try:
        lst = parse_measure_list(text, name=NAME, fmt=fmt)
    except MeasureListError as exc:
        assert exc.problems, "an error must say what is wrong"
        for p in exc.problems:
            assert p.file == NAME, p
            assert p.message
            # Parse errors give the line, everything else the field (and the line when found).
            assert (
                p.line is not None
                or p.field is not None
                or "not valid" in p.message
                or ("top level" in p.message)
            ), p
        return
    assert isinstance(lst, MeasureList)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_lists_as_json(data: dict[str, Any]) -> None:
    _judge(json.dumps(data, ensure_ascii=False, default=str), "json")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["json", "toml"]))
def test_arbitrary_text(text: str, fmt: str) -> None:
    _judge(text, fmt)


@settings(max_examples=100, deadline=None)
@given(values)
def test_arbitrary_json_values(value: Any) -> None:
    _judge(json.dumps(value, default=str), "json")


def test_deep_nesting_is_a_typed_error() -> None:
    for fmt, text in (("json", "[" * 50_000 + "]" * 50_000), ("toml", "a = " + "[" * 50_000)):
        try:
            parse_measure_list(text, name=NAME, fmt=fmt)
        except MeasureListError as exc:
            assert exc.problems[0].file == NAME
        else:
            raise AssertionError("accepted")
