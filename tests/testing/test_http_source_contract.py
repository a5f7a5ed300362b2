"""The HttpSource contract passes a well-behaved adapter and catches each kind of broken one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from creditguard.errors import SourceRefused, SourceUnavailable
from creditguard.masking import mask_text
from creditguard.models import CreditRecord, SubjectRecords
from creditguard.sources import Exchange, HttpSource
from creditguard.testing.contract import GARBAGE, HttpSourceContract, organization_codes

TOKEN = "toy-secret-token"

RECORD = {
    "record_id": "TOY-1",
    "list_kind": "blacklist",
    "domain": "procurement",
    "listed_on": "2025-01-01",
    "status": "listed",
}

#: What the contract raises when a check fails.
FAILED = (AssertionError, pytest.fail.Exception)


class ToySource:
    """A batch adapter done right: ``POST {base}/lookup`` → ``{"listed": {code: [record]}}``."""

    name = "toy"
    max_batch = 3

    def __init__(self) -> None:
        self.base_url = "https://toy.example/api"
        self._token = TOKEN

    def __repr__(self) -> str:
        return f"ToySource(base_url={self.base_url!r})"

    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        response = yield httpx.Request(
            "POST",
            f"{self.base_url}/lookup",
            json={"codes": list(codes)},
            headers={"Authorization": self._token},
        )
        if response.status_code == 429 or response.status_code >= 500:
            raise SourceUnavailable(
                "busy",
                source=self.name,
                status=response.status_code,
                retry_after=self.retry_after(response),
            )
        if response.status_code != 200:
            raise SourceRefused("refused", source=self.name, excerpt=self.excerpt(response))
        listed = self.listed(response)
        return {
            c: SubjectRecords(
                code=c, records=tuple(CreditRecord.model_validate(r) for r in listed.get(c, ()))
            )
            for c in codes
        }

    def listed(self, response: httpx.Response) -> dict[str, Any]:
        try:
            listed = json.loads(response.content)["listed"]
        except (ValueError, TypeError, KeyError):
            listed = None
        if not isinstance(listed, dict):
            raise SourceUnavailable(
                "malformed answer", source=self.name, excerpt=self.excerpt(response)
            )
        return listed

    def excerpt(self, response: httpx.Response) -> str:
        text = response.content[:800].decode("utf-8", errors="replace")
        return mask_text(text.replace(self._token, "***"))[:200]

    @staticmethod
    def retry_after(response: httpx.Response) -> float | None:
        value = response.headers.get("Retry-After", "")
        return float(value) if value.isdigit() else None


def toy_clean(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"listed": {}})


class TestToyContract(HttpSourceContract):
    """The well-behaved adapter passes every check."""

    secret_values = (TOKEN,)

    def make_source(self) -> HttpSource:
        return ToySource()

    def answer_clean(self, request: httpx.Request) -> httpx.Response:
        return toy_clean(request)

    def answer_listed(self, request: httpx.Request, code: str) -> httpx.Response:
        return httpx.Response(200, json={"listed": {code: [RECORD]}})


# --- broken adapters: each breaks one promise -------------------------------------------


class Crashes(ToySource):
    def listed(self, response: httpx.Response) -> dict[str, Any]:
        return dict(json.loads(response.content)["listed"])


class LeaksToken(ToySource):
    def excerpt(self, response: httpx.Response) -> str:
        return response.text[:200]


class ShowsIdNumbers(ToySource):
    def excerpt(self, response: httpx.Response) -> str:
        return response.text[:200].replace(self._token, "***")


class RefusesOn5xx(ToySource):
    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        response = yield httpx.Request("POST", f"{self.base_url}/lookup", json=list(codes))
        if response.status_code >= 500:
            raise SourceRefused("down", source=self.name, status=response.status_code)
        return (yield from super().exchange(codes))


class DropsACode(ToySource):
    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        result = yield from super().exchange(codes)
        return dict(list(result.items())[:-1])


class AddsACode(ToySource):
    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        result = yield from super().exchange(codes)
        return {**result, "EXTRA": SubjectRecords(code="EXTRA", found=False)}


class Sleeps(ToySource):
    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        time.sleep(0.06)
        return (yield from super().exchange(codes))


class Busy(ToySource):
    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        deadline = time.perf_counter() + 0.08  # parsing that stands in for waiting
        while time.perf_counter() < deadline:
            pass
        return (yield from super().exchange(codes))


class WrongHost(ToySource):
    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        yield httpx.Request("GET", "https://elsewhere.example/ping")
        return (yield from super().exchange(codes))


class NoBatch(ToySource):
    max_batch = 0


class ShowsTokenInRepr(ToySource):
    def __repr__(self) -> str:
        return f"ToySource(token={self._token!r})"


class WrongNameInErrors(ToySource):
    def listed(self, response: httpx.Response) -> dict[str, Any]:
        raise SourceUnavailable("malformed answer", source="someone-else")


def contract_for(source_type: Callable[[], HttpSource]) -> HttpSourceContract:
    class Contract(TestToyContract):
        def make_source(self) -> HttpSource:
            return source_type()

    return Contract()


def by_label(label: str) -> Any:
    return next(g for g in GARBAGE if g.label == label)


def test_an_adapter_crashing_on_garbage_fails() -> None:
    with pytest.raises(FAILED, match="raised TypeError, not a SourceError"):
        contract_for(Crashes).test_contract_garbage_raises_source_errors(by_label("json-list"))


def test_an_adapter_refusing_a_5xx_fails() -> None:
    with pytest.raises(FAILED, match="expected SourceUnavailable"):
        contract_for(RefusesOn5xx).test_contract_garbage_raises_source_errors(by_label("500"))


def test_an_adapter_naming_another_source_fails() -> None:
    contract = contract_for(WrongNameInErrors)
    with pytest.raises(FAILED, match="error names 'someone-else'"):
        contract.test_contract_garbage_raises_source_errors(by_label("json-list"))


def test_an_adapter_echoing_the_token_fails_without_printing_it() -> None:
    contract = contract_for(LeaksToken)
    with pytest.raises(FAILED) as info:
        contract.test_contract_garbage_raises_source_errors(by_label("echo-400"))
    assert "shows a secret" in str(info.value)
    assert TOKEN not in str(info.value)


def test_an_adapter_echoing_an_id_number_fails() -> None:
    contract = contract_for(ShowsIdNumbers)
    with pytest.raises(FAILED, match="shows a secret or ID number"):
        contract.test_contract_person_codes_are_masked_in_errors()
    # the same adapter keeps the token out: only the ID number gives it away
    contract.test_contract_garbage_raises_source_errors(by_label("echo-400"))


def test_a_token_in_repr_fails() -> None:
    with pytest.raises(FAILED, match="repr"):
        contract_for(ShowsTokenInRepr).test_contract_repr_shows_no_secret()


@pytest.mark.parametrize("broken", [DropsACode, AddsACode])
def test_an_adapter_not_answering_exactly_the_requested_codes_fails(
    broken: Callable[[], HttpSource],
) -> None:
    contract = contract_for(broken)
    with pytest.raises(FAILED):
        contract.test_contract_exchange_yields_requests_under_base_url()
    with pytest.raises(FAILED):
        contract.test_contract_more_codes_than_max_batch_are_split_by_the_driver()


def test_requests_outside_base_url_fail() -> None:
    with pytest.raises(FAILED, match=r"is not under https://toy\.example/api"):
        contract_for(WrongHost).test_contract_exchange_yields_requests_under_base_url()


def test_max_batch_below_one_fails() -> None:
    with pytest.raises(FAILED, match="max_batch must be at least 1"):
        contract_for(NoBatch).test_contract_declares_name_max_batch_and_base_url()


@pytest.mark.parametrize("broken", [Sleeps, Busy])
def test_an_adapter_that_sleeps_or_dawdles_fails(broken: Callable[[], HttpSource]) -> None:
    contract = contract_for(broken)
    with pytest.MonkeyPatch.context() as monkeypatch, pytest.raises(FAILED):
        contract.test_contract_exchange_neither_sleeps_nor_does_io(monkeypatch)


def test_a_source_that_does_not_look_up_persons_must_not_send_them() -> None:
    class Contract(TestToyContract):
        looks_up_persons = False

    with pytest.raises(FAILED, match="yet a person code was sent"):
        Contract().test_contract_person_codes_are_masked_in_errors()


def test_a_listed_answer_without_records_fails() -> None:
    class Contract(TestToyContract):
        def answer_listed(self, request: httpx.Request, code: str) -> httpx.Response:
            return toy_clean(request)

    with pytest.raises(FAILED, match="produced no record"):
        Contract().test_contract_listed_code_has_records()


def test_missing_hooks_say_what_to_implement() -> None:
    with pytest.raises(NotImplementedError, match="make_source"):
        HttpSourceContract().test_contract_declares_name_max_batch_and_base_url()


def test_organization_codes_are_valid_and_distinct() -> None:
    from creditguard.codes import parse_code

    codes = organization_codes(600)
    assert len(set(codes)) == 600
    assert {parse_code(c).kind for c in codes} == {"organization"}
