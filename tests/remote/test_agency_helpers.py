"""The core's agency helpers: safe base URLs, search keywords, the shared search loop."""

from __future__ import annotations

import logging

import httpx
import pytest

from creditguard.agency_http import secure_base_url
from creditguard.agency_search import organisation_code_keyword, search_keywords
from creditguard.errors import ConfigError
from creditguard.identifiers import SubjectKeys

USCC = "91110000710925462X"


@pytest.mark.parametrize(
    "url",
    [
        "https://open.api.tianyancha.com/",
        "http://127.0.0.1:8080",
        "http://127.8.9.10",
        "http://localhost:9000/base",
        "http://[::1]:8000",
    ],
)
def test_https_and_loopback_base_urls_are_accepted(url: str) -> None:
    assert secure_base_url(url, source="s") == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://open.api.tianyancha.com", "http://10.0.0.5", "http://gateway.internal:80"]
)
def test_plain_http_to_another_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="allow_plain_http") as info:
        secure_base_url(url, source="tyc")
    assert "'tyc'" in str(info.value)


def test_plain_http_when_allowed_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="creditguard.sources"):
        assert secure_base_url("http://gw.internal", source="tyc", allow_plain_http=True)
    assert "plain http://" in caplog.text and "gw.internal" in caplog.text


@pytest.mark.parametrize("url", ["ftp://x.example", "open.api.tianyancha.com", "https://", ""])
def test_other_schemes_and_hostless_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        secure_base_url(url, source="s")


def test_an_organisation_is_searched_by_its_code_then_its_organisation_code() -> None:
    keys = SubjectKeys.of(USCC)
    assert organisation_code_keyword(keys) == "71092546-2"
    assert search_keywords(keys) == (USCC, "71092546-2")
    assert search_keywords(keys, organisation_code=False) == (USCC,)
    # what the agency returns under the organisation code matches exactly
    assert keys.classify("71092546-2") == "exact"
    assert keys.classify("710925462") == "exact"


def test_persons_have_one_keyword() -> None:
    keys = SubjectKeys.of("320102198005141232")
    assert organisation_code_keyword(keys) is None
    assert search_keywords(keys) == ("320102198005141232",)


def test_adapters_refuse_plain_http_to_another_host() -> None:
    tianyancha = pytest.importorskip("creditguard_tianyancha")
    qichacha = pytest.importorskip("creditguard_qichacha")
    with pytest.raises(ConfigError, match="allow_plain_http"):
        tianyancha.create_source(token="t", base_url="http://open.api.tianyancha.com")
    with pytest.raises(ConfigError, match="allow_plain_http"):
        qichacha.create_source(app_key="k", secret_key="s", base_url="http://api.qichacha.com")
    source = tianyancha.create_source(token="t")
    assert httpx.URL(source.base_url).scheme == "https"
