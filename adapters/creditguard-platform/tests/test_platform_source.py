"""PlatformSource over a mock platform, through both drivers."""

from __future__ import annotations

import json

import httpx
import pytest
from creditguard_platform import PlatformSource
from platform_helpers import (
    APP_KEY,
    BASE_URL,
    ORG,
    ORG2,
    ORG3,
    SECRET,
    MockPlatform,
    error,
    record,
    spec_check,
)

from creditguard.errors import ConfigError, SourceRefused, SourceUnavailable
from creditguard.remote import AsyncDriver, RemoteSettings, SyncDriver
from creditguard.sources import HttpSource
from creditguard.testing.auth import SignatureRefused

FAST = RemoteSettings(backoff_initial=0.001, backoff_max=0.005, jitter=0.001)


def make(platform: MockPlatform, **kw: object) -> tuple[PlatformSource, SyncDriver]:
    source = PlatformSource("jiangsu", BASE_URL, APP_KEY, SECRET, **kw)  # type: ignore[arg-type]
    return source, SyncDriver(FAST, platform.transport())


def test_is_an_http_source() -> None:
    assert isinstance(PlatformSource("p", BASE_URL, APP_KEY, SECRET), HttpSource)


def test_single_lookup_is_a_signed_get_under_the_base_path() -> None:
    platform = MockPlatform(subjects={ORG: [record()]})
    source, driver = make(platform)
    found = driver.fetch(source, [ORG])[ORG]
    request = platform.calls[0]
    assert request.method == "GET"
    assert (
        request.url.raw_path.decode() == f"/api/gw/v1/subjects/{ORG}/records?include_related=false"
    )
    assert found.found and found.subject is not None and found.subject.name == "某公司"
    assert [r.record_id for r in found.records] == ["JS-2026-000123"]


def test_signature_covers_the_path_prefix_and_query() -> None:
    platform = MockPlatform(subjects={ORG: []})
    source, driver = make(platform, include_related=True)
    driver.fetch(source, [ORG])
    request = platform.calls[0]
    path, _, query = request.url.raw_path.decode().partition("?")
    assert spec_check(request.headers, "GET", path, query, b"") == APP_KEY
    with pytest.raises(SignatureRefused):  # the prefix is part of what was signed
        spec_check(request.headers, "GET", path.removeprefix("/api/gw"), query, b"")
    with pytest.raises(SignatureRefused):  # and so is the query
        spec_check(request.headers, "GET", path, "include_related=false", b"")


def test_unsigned_or_badly_signed_requests_are_refused_by_the_mock() -> None:
    platform = MockPlatform(subjects={ORG: []})
    source = PlatformSource("p", BASE_URL, APP_KEY, "wrong secret")
    with pytest.raises(SourceRefused) as info:
        SyncDriver(FAST, platform.transport()).fetch(source, [ORG])
    assert info.value.status == 401 and info.value.code == "UNAUTHENTICATED"


def test_batch_lookup_is_one_signed_post() -> None:
    platform = MockPlatform(subjects={ORG: [record()], ORG2: []})
    source, driver = make(platform)
    found = driver.fetch(source, [ORG, ORG2, ORG3])
    assert len(platform.calls) == 1
    request = platform.calls[0]
    assert request.method == "POST" and request.url.path == "/api/gw/v1/subjects:batch-records"
    assert json.loads(request.content) == {"codes": [ORG, ORG2, ORG3], "include_related": False}
    assert request.headers["content-type"] == "application/json"
    assert found[ORG].found and len(found[ORG].records) == 1
    assert found[ORG2].found and found[ORG2].records == ()
    assert not found[ORG3].found


def test_large_lookups_are_split_in_batches_of_500() -> None:
    codes = [f"CODE{i:05d}" for i in range(1201)]
    platform = MockPlatform(subjects={c: [] for c in codes[::2]})
    source, driver = make(platform)
    found = driver.fetch(source, codes)
    sizes = sorted(len(json.loads(r.content)["codes"]) for r in platform.calls)
    assert sizes == [201, 500, 500]
    assert len(found) == 1201 and sum(r.found for r in found.values()) == 601


def test_max_batch_is_capped_by_the_spec() -> None:
    with pytest.raises(ConfigError, match="max_batch"):
        PlatformSource("p", BASE_URL, APP_KEY, SECRET, max_batch=501)


def test_subject_not_found_is_an_answer() -> None:
    platform = MockPlatform()
    source, driver = make(platform)
    found = driver.fetch(source, [ORG])[ORG]
    assert not found.found and found.records == ()


def test_a_404_that_is_not_subject_not_found_is_a_refusal() -> None:
    platform = MockPlatform(override=[httpx.Response(404, html="<h1>Not Found</h1>")])
    source, driver = make(platform)
    with pytest.raises(SourceRefused) as info:
        driver.fetch(source, [ORG])
    assert info.value.status == 404 and "Not Found" in (info.value.excerpt or "")


def test_etag_304_reuses_the_stored_answer() -> None:
    platform = MockPlatform(subjects={ORG: [record()]})
    source, driver = make(platform)
    first = driver.fetch(source, [ORG])[ORG]
    platform.subjects[ORG] = [record("CHANGED-BUT-SAME-ETAG")]
    second = driver.fetch(source, [ORG])[ORG]
    assert "if-none-match" not in platform.calls[0].headers
    assert platform.calls[1].headers["if-none-match"] == platform.etags[ORG]
    assert second == first  # the 304 answer came from the store
    assert len(source.etags) == 1


def test_etags_are_kept_per_include_related() -> None:
    platform = MockPlatform(subjects={ORG: []})
    source, driver = make(platform)
    driver.fetch(source, [ORG])
    driver.fetch(source, [ORG], include_related=True)
    assert "if-none-match" not in platform.calls[1].headers


def test_etag_store_is_bounded() -> None:
    codes = [f"C{i}" for i in range(5)]
    platform = MockPlatform(subjects={c: [] for c in codes})
    source, driver = make(platform, etag_cache_size=2)
    for code in codes:
        driver.fetch(source, [code])
    assert len(source.etags) == 2


def test_include_related_is_sent_in_query_and_body() -> None:
    platform = MockPlatform(subjects={ORG: [], ORG2: []})
    source, driver = make(platform)
    driver.fetch(source, [ORG], include_related=True)
    driver.fetch(source, [ORG, ORG2], include_related=True)
    assert platform.calls[0].url.params["include_related"] == "true"
    assert json.loads(platform.calls[1].content)["include_related"] is True


def test_source_level_include_related_forces_it() -> None:
    platform = MockPlatform(subjects={ORG: []})
    source, driver = make(platform, include_related=True)
    driver.fetch(source, [ORG])
    assert platform.calls[0].url.params["include_related"] == "true"


def test_unknown_fields_and_domains_are_kept() -> None:
    platform = MockPlatform(
        subjects={ORG: [record(domain="space_debris", via=None, new_field={"x": 1})]}
    )
    source, driver = make(platform)
    rec = driver.fetch(source, [ORG])[ORG].records[0]
    assert rec.domain == "space_debris"
    assert rec.model_extra == {"new_field": {"x": 1}}


def test_related_records_keep_role_and_via() -> None:
    platform = MockPlatform(subjects={ORG: [record(role="legal_representative", via=ORG2)]})
    source, driver = make(platform)
    rec = driver.fetch(source, [ORG], include_related=True)[ORG].records[0]
    assert (rec.role, rec.via) == ("legal_representative", ORG2)


@pytest.mark.parametrize(
    ("records", "field"),
    [
        ([record(), record(listed_on="yesterday")], "records[1].listed_on"),
        ([record(list_kind="greylist")], "records[0].list_kind"),
        ("not a list", "records"),
    ],
)
def test_malformed_payload_names_the_field(records: object, field: str) -> None:
    platform = MockPlatform(
        override=[httpx.Response(200, json={"subject": None, "records": records})] * 4
    )
    source, driver = make(platform)
    with pytest.raises(SourceUnavailable) as info:
        driver.fetch(source, [ORG])
    assert field in str(info.value) and "malformed" in str(info.value)
    assert len(platform.calls) == 4  # a misbehaving platform is retried like any temporary failure


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"results": [], "not_found": [ORG, ORG, ORG2]}, "more than once"),
        ({"results": [], "not_found": [ORG, ORG2, ORG3]}, "was not requested"),
        ({"results": [], "not_found": [ORG]}, "neither results nor not_found"),
        ({"not_found": [ORG]}, "results: expected a list"),
    ],
)
def test_malformed_batch_answers(body: dict[str, object], words: str) -> None:
    platform = MockPlatform(override=[httpx.Response(200, json=body)])
    source = PlatformSource("p", BASE_URL, APP_KEY, SECRET)
    gen = source.exchange([ORG, ORG2])
    request = next(gen)
    with pytest.raises(SourceUnavailable, match=words):
        gen.send(platform(request))


def test_html_200_is_unavailable_with_excerpt() -> None:
    platform = MockPlatform(override=[httpx.Response(200, html="<html>系统维护</html>")] * 10)
    source, driver = make(platform)
    with pytest.raises(SourceUnavailable) as info:
        driver.fetch(source, [ORG])
    assert "系统维护" in (info.value.excerpt or "")


@pytest.mark.parametrize(
    ("response", "kind", "calls"),
    [
        (error(400, "INVALID_ARGUMENT"), SourceRefused, 1),
        (error(401, "UNAUTHENTICATED"), SourceRefused, 1),
        (error(403, "PERMISSION_DENIED"), SourceRefused, 1),
        (error(500, "INTERNAL"), SourceUnavailable, 4),
        (error(503, "UNAVAILABLE"), SourceUnavailable, 4),
        (error(429, "RATE_LIMITED", **{"Retry-After": "0"}), SourceUnavailable, 4),
    ],
)
def test_errors_through_the_driver(
    response: httpx.Response, kind: type[Exception], calls: int
) -> None:
    platform = MockPlatform(subjects={ORG: []}, override=[response] * 10)
    source, driver = make(platform)
    with pytest.raises(kind):
        driver.fetch(source, [ORG])
    assert len(platform.calls) == calls


def test_429_then_success_is_retried() -> None:
    platform = MockPlatform(
        subjects={ORG: []}, override=[error(429, "RATE_LIMITED", **{"Retry-After": "0"})]
    )
    source, driver = make(platform)
    assert driver.fetch(source, [ORG])[ORG].found
    assert len(platform.calls) == 2


def test_413_splits_the_batch() -> None:
    platform = MockPlatform(
        subjects={ORG: [], ORG2: [], ORG3: []}, override=[error(413, "PAYLOAD_TOO_LARGE")]
    )
    source, driver = make(platform)
    found = driver.fetch(source, [ORG, ORG2, ORG3])
    assert len(found) == 3 and len(platform.calls) == 3


@pytest.mark.anyio
async def test_async_driver_gives_the_same_answers() -> None:
    platform = MockPlatform(subjects={ORG: [record()], ORG2: []})
    source = PlatformSource("jiangsu", BASE_URL, APP_KEY, SECRET)
    sync = SyncDriver(FAST, platform.transport()).fetch(source, [ORG, ORG2, ORG3])
    asyn = await AsyncDriver(FAST, platform.transport()).fetch(source, [ORG, ORG2, ORG3])
    assert sync == asyn
    one = await AsyncDriver(FAST, platform.transport()).fetch(source, [ORG])
    assert one[ORG] == sync[ORG]


def test_repr_never_shows_the_secret() -> None:
    source = PlatformSource("p", BASE_URL, APP_KEY, SECRET)
    assert SECRET not in repr(source) and APP_KEY in repr(source)
    assert SECRET not in repr(source._signer)


def test_bad_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="base_url"):
        PlatformSource("p", "ftp://x", APP_KEY, SECRET)


def test_etag_store_keeps_the_most_recently_used_answers() -> None:
    from creditguard_platform import EtagStore

    from creditguard.models import SubjectRecords

    store = EtagStore(2)
    for code in ("A", "B"):
        store.put(code, False, f'"{code}"', SubjectRecords(code=code))
    assert store.get("A", False) is not None  # A is now the most recently used
    store.put("C", False, '"C"', SubjectRecords(code="C"))
    assert store.get("B", False) is None and len(store) == 2
    assert store.get("A", True) is None  # include_related is part of the key
    off = EtagStore(0)
    off.put("A", False, '"A"', SubjectRecords(code="A"))
    assert off.get("A", False) is None and len(off) == 0


def _resident_id(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


def test_a_person_is_looked_up_by_batch_so_the_number_is_never_in_a_url() -> None:
    # Spec §4.0 note: proxies and access logs keep URLs; the number travels in the body.
    person = _resident_id("32010219800101123")
    platform = MockPlatform(subjects={person: [record()]})
    source, driver = make(platform)
    found = driver.fetch(source, [person])[person]
    (request,) = platform.calls
    assert request.method == "POST"
    assert request.url.raw_path.decode() == "/api/gw/v1/subjects:batch-records"
    assert person not in str(request.url) and person[6:14] not in str(request.url)
    assert json.loads(request.content)["codes"] == [person]
    assert [r.record_id for r in found.records] == ["JS-2026-000123"]
