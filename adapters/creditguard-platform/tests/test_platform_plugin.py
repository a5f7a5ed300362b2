"""The entry point and the source factory configuration reads."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import pytest
from creditguard_platform import PlatformChannel, PlatformSource, plugin
from creditguard_platform.plugin import make_channel, make_source
from platform_helpers import BASE_URL

from creditguard.channels import open_channel
from creditguard.config import config_from_dict
from creditguard.errors import ConfigError, SecretMissing
from creditguard.plugins import Hooks, build_plugin_manager


def test_entry_point_is_declared() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="creditguard")}
    assert names.get("platform") == "creditguard_platform.plugin"


def test_hook_registers_the_platform_type() -> None:
    found: dict[str, Any] = {}
    plugin.creditguard_register_sources(lambda name, factory: found.setdefault(name, factory))
    assert found == {"platform": make_source}


def test_plugin_manager_offers_the_type() -> None:
    pm = build_plugin_manager([plugin], load_entrypoints=False)
    assert Hooks(pm).register_sources()["platform"] is make_source


def test_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_TEST_SECRET", "s3cret")
    source = make_source(
        name="js", base_url=BASE_URL, app_key="k", secret_env="CG_TEST_SECRET", include_related=True
    )
    assert isinstance(source, PlatformSource)
    assert source.include_related and source.name == "js" and source.max_batch == 500
    assert "s3cret" not in repr(source)


def test_missing_secret_variable_names_the_variable_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CG_NOPE", raising=False)
    with pytest.raises(ConfigError, match="CG_NOPE"):
        make_source(name="js", base_url=BASE_URL, app_key="k", secret_env="CG_NOPE")


@pytest.mark.parametrize("options", [{}, {"secret": "a", "secret_env": "B"}])
def test_exactly_one_secret_option(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        make_source(name="js", base_url=BASE_URL, app_key="k", **options)


def test_unknown_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="tiemout"):
        make_source(name="js", base_url=BASE_URL, app_key="k", secret="s", tiemout=3)


def test_hook_registers_the_platform_channel() -> None:
    found: dict[str, Any] = {}
    plugin.creditguard_register_channels(lambda name, factory: found.setdefault(name, factory))
    assert found == {"platform": make_channel}
    pm = build_plugin_manager([plugin], load_entrypoints=False)
    assert Hooks(pm).register_channels()["platform"] is make_channel


def test_the_channel_is_built_from_the_sources_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_TEST_SECRET", "s3cret")
    cfg = config_from_dict(
        {
            "guard": {"unit_code": "320100-CG", "data_dir": "var"},
            "sources": [
                {
                    "name": "js",
                    "type": "platform",
                    "base_url": BASE_URL,
                    "app_key": "k",
                    "secret_env": "CG_TEST_SECRET",
                    "include_related": True,
                }
            ],
        }
    )
    pm = build_plugin_manager([plugin], load_entrypoints=False)
    channel = open_channel(cfg, pm)
    assert isinstance(channel, PlatformChannel) and channel.name == "js"
    assert "s3cret" not in repr(channel)
    monkeypatch.setenv("CG_TEST_SECRET", "")
    with pytest.raises(SecretMissing, match="CG_TEST_SECRET"):
        open_channel(cfg, pm)


def test_channel_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="tiemout"):
        make_channel(name="js", base_url=BASE_URL, app_key="k", secret="s", tiemout=3)
    with pytest.raises(ConfigError, match="base_url"):
        make_channel(name="js", base_url="ftp://x", app_key="k", secret="s")
