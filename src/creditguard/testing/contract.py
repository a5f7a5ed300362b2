"""Contract tests every :class:`~creditguard.sources.HttpSource` adapter should pass.

Subclass :class:`HttpSourceContract` in a test module (its name must start
with ``Test`` for pytest to collect it) and provide the source and how its
upstream answers "no records"; the ``test_contract_*`` methods are inherited::

    class TestCityCreditContract(HttpSourceContract):
        secret_values = ("t0ken",)

        def make_source(self) -> HttpSource:
            return CityCreditSource(name="city", base_url="https://city.example", token="t0ken")

        def answer_clean(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(404)

The checks are the generic promises of the protocol (``docs/adapters.md``):
the declared attributes; ``exchange`` is a generator of ``httpx.Request``
objects under ``base_url`` returning exactly the requested codes, through the
real sync driver (which splits by ``max_batch``) and the async driver alike;
garbage answers raise only :class:`~creditguard.errors.SourceError`, and 429
and 5xx :class:`~creditguard.errors.SourceUnavailable`, naming the source;
neither ``repr`` nor any error message shows a secret or an unmasked resident
ID number, even when the upstream echoes the request back; and the adapter
neither sleeps nor touches the network itself.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import pytest

from creditguard.codes import org_code_check_char, uscc_check_char
from creditguard.errors import SourceError, SourceUnavailable
from creditguard.models import SubjectRecords
from creditguard.remote.driver import AsyncDriver
from creditguard.remote.policy import RemoteSettings
from creditguard.sources import Exchange, HttpSource
from creditguard.testing.exchange import Handler, instant_driver

__all__ = ["GARBAGE", "Garbage", "HttpSourceContract", "organization_codes"]

#: A resident ID number with a valid check digit (fictional person).
PERSON_CODE = "320102198005141232"

#: How long one exchange may take with instant answers: an adapter that waits is broken.
MAX_EXCHANGE_SECONDS = 0.05


def organization_codes(count: int) -> list[str]:
    """``count`` distinct, valid unified social credit codes (fictional organisations)."""
    codes = []
    for n in range(count):
        body = f"{71000000 + n:08d}"
        first17 = "91110000" + body + org_code_check_char(body)
        codes.append(first17 + uscc_check_char(first17))
    return codes


@dataclass(frozen=True, slots=True)
class Garbage:
    """An answer an upstream (or a proxy in front of it) should never give, but does."""

    label: str
    answer: Callable[[httpx.Request], httpx.Response]
    #: the status says "temporary" (429, 5xx) or the body is a malformed 2xx
    temporary: bool
    retry_after: float | None = None


def _echo(request: httpx.Request) -> str:
    # A debugging gateway quoting the request: URL, headers and body.
    headers = " ".join(f"{k}={v}" for k, v in request.headers.items())
    return f"<html>upstream error for {request.url} {headers} {request.content!r}</html>"


#: The garbage every adapter must turn into a :class:`SourceError` through the driver.
GARBAGE: tuple[Garbage, ...] = (
    Garbage("html-200", lambda r: httpx.Response(200, html="<html>maintenance</html>"), True),
    Garbage("html-502", lambda r: httpx.Response(502, html="<html>Bad Gateway</html>"), True),
    Garbage("empty-200", lambda r: httpx.Response(200, content=b""), True),
    Garbage(
        "truncated-json",
        lambda r: httpx.Response(
            200, content=b'{"a": [1, 2', headers={"content-type": "application/json"}
        ),
        True,
    ),
    Garbage("json-list", lambda r: httpx.Response(200, json=[1, 2, 3]), True),
    Garbage("json-null", lambda r: httpx.Response(200, json=None), True),
    Garbage("json-string", lambda r: httpx.Response(200, json="ok"), True),
    Garbage("binary-200", lambda r: httpx.Response(200, content=b"\xff\xfe\x00\x81garbage"), True),
    Garbage(
        "429-retry-after",
        lambda r: httpx.Response(429, headers={"Retry-After": "2"}, text="slow down"),
        True,
        retry_after=2.0,
    ),
    Garbage("500", lambda r: httpx.Response(500, text="Internal Server Error"), True),
    Garbage("503", lambda r: httpx.Response(503, json={"oops": True}), True),
    Garbage("echo-200", lambda r: httpx.Response(200, html=_echo(r)), True),
    Garbage("echo-502", lambda r: httpx.Response(502, html=_echo(r)), True),
    Garbage("echo-400", lambda r: httpx.Response(400, html=_echo(r)), False),
)


class HttpSourceContract:
    """Inherited ``test_contract_*`` checks of an :class:`~creditguard.sources.HttpSource`.

    Provide :meth:`make_source` and :meth:`answer_clean`; optionally
    :meth:`answer_listed`, :attr:`secret_values` and the class attributes
    below when the adapter's design legitimately differs.
    """

    #: Every secret the source holds (tokens, keys): never in ``repr`` or an error message.
    secret_values: ClassVar[tuple[str, ...]] = ()
    #: False for a source that never sends person codes upstream (answers ``found=False``
    #: without a request); True obliges it to mask them wherever it mentions them.
    looks_up_persons: ClassVar[bool] = True
    #: A valid resident ID number used as a person code.
    person_code: ClassVar[str] = PERSON_CODE

    # --- hooks ------------------------------------------------------------------------

    def make_source(self) -> HttpSource:
        """A fresh source under test."""
        raise NotImplementedError("HttpSourceContract subclasses must implement make_source()")

    def answer_clean(self, request: httpx.Request) -> httpx.Response:
        """The upstream's answer to ``request`` when none of its codes has any record."""
        raise NotImplementedError("HttpSourceContract subclasses must implement answer_clean()")

    def answer_listed(self, request: httpx.Request, code: str) -> httpx.Response | None:
        """The upstream's answer to ``request`` when ``code`` has a record (not overridden: skipped)."""
        return None

    # --- helpers ----------------------------------------------------------------------

    def codes(self, count: int) -> list[str]:
        """``count`` organisation codes to look up."""
        return organization_codes(count)

    def _fresh(self) -> HttpSource:
        source = self.make_source()
        assert isinstance(source, HttpSource), f"{source!r} does not implement HttpSource"
        return source

    def _clean_handler(self, sent: list[httpx.Request]) -> Handler:
        def handle(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return self.answer_clean(request)

        return handle

    def _fetch_clean(
        self, source: HttpSource, codes: Sequence[str], sent: list[httpx.Request] | None = None
    ) -> Mapping[str, SubjectRecords]:
        with instant_driver(self._clean_handler([] if sent is None else sent)) as driver:
            try:
                return driver.fetch(source, codes)
            except SourceError as exc:
                pytest.fail(f"a lookup answered with answer_clean() failed: {exc}")

    def _fetch_error(self, source: HttpSource, code: str, garbage: Garbage) -> SourceError:
        with instant_driver(garbage.answer) as driver:
            try:
                driver.fetch(source, [code])
            except SourceError as exc:
                return exc
            except Exception as exc:  # the contract is about exactly this case
                pytest.fail(
                    f"{garbage.label}: {type(source).__name__} raised {type(exc).__name__}, "
                    f"not a SourceError: {exc}"
                )
        pytest.fail(f"{garbage.label}: {type(source).__name__} returned records from garbage")

    # --- the contract -----------------------------------------------------------------

    def test_contract_declares_name_max_batch_and_base_url(self) -> None:
        source = self._fresh()
        assert isinstance(source.name, str) and source.name, "name must be a non-empty string"
        assert isinstance(source.max_batch, int) and not isinstance(source.max_batch, bool)
        assert source.max_batch >= 1, f"max_batch must be at least 1, got {source.max_batch}"
        assert isinstance(source.base_url, str)
        assert httpx.URL(source.base_url).scheme in ("http", "https"), source.base_url

    def test_contract_exchange_yields_requests_under_base_url(self) -> None:
        source = self._fresh()
        code = self.codes(1)[0]
        exchange = source.exchange([code])
        # Not narrowed by the assert: the protocol's Generator type is the one to keep.
        is_generator = inspect.isgenerator(exchange)
        assert is_generator, "exchange() must return a generator"
        sent: list[httpx.Request] = []
        result, yielded = _run(exchange, self._clean_handler(sent))
        assert yielded, "a lookup of an organisation code sent no request"
        prefix = str(httpx.URL(source.base_url)).rstrip("/")
        for request in yielded:
            assert isinstance(request, httpx.Request), f"yielded {request!r}, not an httpx.Request"
            assert str(request.url).startswith(prefix), f"{request.url} is not under {prefix}"
        _assert_exactly(result, [code])
        assert not result[code].records, "the clean answer produced records"

    def test_contract_one_code_through_the_sync_driver(self) -> None:
        code = self.codes(1)[0]
        sent: list[httpx.Request] = []
        result = self._fetch_clean(self._fresh(), [code], sent)
        _assert_exactly(result, [code])
        assert sent, "no request reached the transport"

    def test_contract_more_codes_than_max_batch_are_split_by_the_driver(self) -> None:
        source = self._fresh()
        codes = self.codes(source.max_batch + 1)
        spy = _Spy(source)
        result = self._fetch_clean(spy, codes)
        _assert_exactly(result, codes)
        assert sorted(len(batch) for batch in spy.batches) == sorted([source.max_batch, 1])
        for batch, answer in spy.exchanges:
            _assert_exactly(answer, batch)

    def test_contract_listed_code_has_records(self) -> None:
        if type(self).answer_listed is HttpSourceContract.answer_listed:
            pytest.skip("answer_listed() not provided")
        code = self.codes(1)[0]

        def handle(request: httpx.Request) -> httpx.Response:
            answer = self.answer_listed(request, code)
            assert answer is not None, "answer_listed() returned None"
            return answer

        with instant_driver(handle) as driver:
            result = driver.fetch(self._fresh(), [code])
        _assert_exactly(result, [code])
        assert result[code].records, "answer_listed() produced no record"

    @pytest.mark.anyio
    async def test_contract_async_driver_gives_the_same_result(self) -> None:
        source = self._fresh()
        for codes in (self.codes(1), self.codes(source.max_batch + 1)):
            expected = self._fetch_clean(self._fresh(), codes)
            transport = httpx.MockTransport(self._clean_handler([]))
            async with AsyncDriver(_INSTANT, transport) as async_driver:
                got = await async_driver.fetch(self._fresh(), codes)
            assert got == expected, "the async driver's result differs from the sync driver's"
        for garbage in (g for g in GARBAGE if g.label in ("html-502", "json-list")):
            sync_error = self._fetch_error(self._fresh(), self.codes(1)[0], garbage)
            async with AsyncDriver(_INSTANT, httpx.MockTransport(garbage.answer)) as async_driver:
                with pytest.raises(SourceError) as info:
                    await async_driver.fetch(self._fresh(), self.codes(1))
            assert type(info.value) is type(sync_error), garbage.label
            assert str(info.value) == str(sync_error), garbage.label

    @pytest.fixture
    def anyio_backend(self) -> str:
        """The async test runs on asyncio, like the guard's AsyncGuard."""
        return "asyncio"

    @pytest.mark.parametrize("garbage", GARBAGE, ids=[g.label for g in GARBAGE])
    def test_contract_garbage_raises_source_errors(self, garbage: Garbage) -> None:
        source = self._fresh()
        error = self._fetch_error(source, self.codes(1)[0], garbage)
        assert error.source == source.name, f"{garbage.label}: error names {error.source!r}"
        if garbage.temporary:
            assert isinstance(error, SourceUnavailable), (
                f"{garbage.label}: expected SourceUnavailable, got {type(error).__name__}: {error}"
            )
        if garbage.retry_after is not None:
            assert error.retry_after == garbage.retry_after, f"{garbage.label}: Retry-After lost"
        _assert_not_shown(error, self.secret_values, garbage.label)

    def test_contract_repr_shows_no_secret(self) -> None:
        source = self._fresh()
        for secret in self.secret_values:
            assert secret not in repr(source), "repr(source) shows a secret"
            assert secret not in str(source), "str(source) shows a secret"

    def test_contract_person_codes_are_masked_in_errors(self) -> None:
        if not self.looks_up_persons:
            sent: list[httpx.Request] = []
            result = self._fetch_clean(self._fresh(), [self.person_code], sent)
            assert not sent, "looks_up_persons is False, yet a person code was sent"
            assert result[self.person_code].found is False
            return
        for garbage in GARBAGE:
            error = self._fetch_error(self._fresh(), self.person_code, garbage)
            _assert_not_shown(error, (*self.secret_values, self.person_code), garbage.label)

    def test_contract_exchange_neither_sleeps_nor_does_io(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        source = self._fresh()
        codes = self.codes(min(source.max_batch, 20))
        handler = self._clean_handler([])
        _run(source.exchange(codes), handler)  # warm-up: first imports and validators

        def forbidden(*args: object, **kwargs: object) -> Any:
            raise AssertionError("the adapter itself slept or opened a connection")

        monkeypatch.setattr(time, "sleep", forbidden)
        monkeypatch.setattr(asyncio, "sleep", forbidden)
        monkeypatch.setattr(socket, "create_connection", forbidden)
        monkeypatch.setattr(socket, "getaddrinfo", forbidden)
        monkeypatch.setattr(socket.socket, "connect", forbidden)
        for batch in ([codes[0]], codes):
            _, _, spent = _timed_run(source.exchange(batch), handler)
            assert spent < MAX_EXCHANGE_SECONDS, (
                f"exchange of {len(batch)} codes took {spent * 1000:.0f} ms with instant answers"
            )


# --- machinery ------------------------------------------------------------------------

_INSTANT = RemoteSettings(deadline_s=5.0, backoff_initial=0.0, jitter=0.0)


class _Spy:
    """Passes a source through, recording the codes and answer of each exchange."""

    def __init__(self, source: HttpSource) -> None:
        self._source = source
        self.name = source.name
        self.max_batch = source.max_batch
        self.base_url = source.base_url
        # (codes, answer) pairs, recorded together: the driver may run chunks in threads,
        # so two separate lists could pair one chunk's codes with another's answer.
        self.exchanges: list[tuple[list[str], Mapping[str, SubjectRecords]]] = []

    @property
    def batches(self) -> list[list[str]]:
        """The codes of each finished exchange."""
        return [codes for codes, _ in self.exchanges]

    def exchange(self, codes: Sequence[str], *, include_related: bool = False) -> Exchange:
        asked = list(codes)
        answer = yield from self._source.exchange(codes, include_related=include_related)
        self.exchanges.append((asked, answer))
        return answer


def _run(
    exchange: Exchange, handler: Handler
) -> tuple[Mapping[str, SubjectRecords], list[httpx.Request]]:
    result, sent, _ = _timed_run(exchange, handler)
    return result, sent


def _timed_run(
    exchange: Exchange, handler: Handler
) -> tuple[Mapping[str, SubjectRecords], list[httpx.Request], float]:
    """Run ``exchange`` answering with ``handler``; also the time spent in the adapter alone."""
    sent: list[httpx.Request] = []
    spent = 0.0
    response: httpx.Response | None = None
    for _ in range(1000):
        started = time.perf_counter()
        try:
            request = next(exchange) if response is None else exchange.send(response)
        except StopIteration as stop:
            spent += time.perf_counter() - started
            return stop.value, sent, spent
        spent += time.perf_counter() - started
        sent.append(request)
        response = handler(request)
        # What a driver hands over: a response bound to its request, body read.
        response.request = request
        response.read()
    raise AssertionError("the exchange yielded more than 1,000 requests")


def _assert_exactly(result: Mapping[str, SubjectRecords], codes: Sequence[str]) -> None:
    assert isinstance(result, Mapping), f"exchange returned {type(result).__name__}, not a mapping"
    extra = sorted(set(result) - set(codes))
    missing = sorted(set(codes) - set(result))
    assert not extra and not missing, f"codes not requested: {extra[:3]}; missing: {missing[:3]}"
    for code in codes:
        records = result[code]
        assert isinstance(records, SubjectRecords), f"{code}: {type(records).__name__}"


def _assert_not_shown(error: BaseException, secrets: Sequence[str], label: str) -> None:
    """No secret in the message of ``error`` or of any exception it chains to."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = f"{current} {current!r}"
        # pytest.fail, not assert: assertion rewriting would print the secret.
        if any(secret and secret in text for secret in secrets):
            pytest.fail(f"{label}: a {type(current).__name__} message shows a secret or ID number")
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
