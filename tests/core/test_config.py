"""The configuration file: defaults, paths relative to the file, errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditguard import Guard
from creditguard.config import CONFIG_ENV, Config, config_from_dict, find_config, load_config
from creditguard.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "creditguard.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    cfg = load_config()
    assert cfg == Config()
    assert cfg.guard.data_dir == ".creditguard" and cfg.guard.deadline_ms == 800
    assert cfg.guard.cache_ttl_s == 300 and cfg.guard.commitment_steps == ("licensing.commitment",)
    assert [(s.name, s.type) for s in cfg.sources] == [("mirror", "mirror")]
    assert cfg.failure.default == "hold" and cfg.failure.stale_fallback == "hold"
    assert cfg.measures.packs is True and cfg.measures.files == ()
    assert cfg.journal.enabled is True


def test_full_file(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
[guard]
unit_code = "320100-CG"
data_dir = "var"
deadline_ms = 500
cache_ttl_s = 0
commitment_steps = ["licensing.commitment", "market.entry"]

[[sources]]
name = "local"
type = "mirror"
path = "db/mirror.db"

[measures]
packs = false
aliases = { "320102" = "320100" }

[failure]
default = "stale"
stale_fallback = "raise"
max_stale_s = 60
steps = { "procurement.*" = "raise" }

[journal]
path = "audit/j.db"
""",
    )
    cfg = load_config(p)
    assert cfg.guard.unit_code == "320100-CG" and cfg.guard.deadline_ms == 500
    assert cfg.sources[0].options == {"path": "db/mirror.db"}
    assert cfg.measures.aliases == {"320102": "320100"}
    assert cfg.failure.steps == {"procurement.*": "raise"} and cfg.failure.max_stale_s == 60
    assert cfg.base_dir == str(tmp_path)


def test_relative_paths_resolve_against_the_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    (conf_dir / "lists").mkdir()
    (conf_dir / "lists" / "a.toml").write_text("")
    (conf_dir / "lists" / "b.toml").write_text("")
    p = write(
        conf_dir,
        '[guard]\ndata_dir = "var"\n[measures]\nfiles = ["lists/*.toml"]\n'
        '[journal]\npath = "audit/j.db"\n[[sources]]\nname = "m"\ntype = "mirror"\npath = "m.db"\n',
    )
    monkeypatch.chdir(tmp_path)
    cfg = load_config("etc/creditguard.toml")
    assert cfg.data_dir.resolve() == (conf_dir / "var").resolve()
    assert cfg.path("audit/j.db").resolve() == (conf_dir / "audit" / "j.db").resolve()
    assert [f.name for f in cfg.measure_files()] == ["a.toml", "b.toml"]
    assert cfg.path("/abs/x.db") == Path("/abs/x.db")
    del p
    p2 = write(
        conf_dir,
        '[guard]\ndata_dir = "var"\n[measures]\npacks = false\n'
        '[[sources]]\nname = "m"\ntype = "mirror"\npath = "m.db"\n',
        name="c2.toml",
    )
    with Guard.from_config(p2, load_entrypoints=False) as g:
        assert Path(g.sources["m"].path).resolve() == (conf_dir / "m.db").resolve()
        assert (
            g.journal is not None
            and g.journal.path.resolve() == (conf_dir / "var" / "journal.db").resolve()
        )
    # building the guard never creates the mirror (a missing one is reported, not made empty)
    assert not (conf_dir / "m.db").exists() and not (tmp_path / "m.db").exists()


def test_default_mirror_lives_in_data_dir(tmp_path: Path) -> None:
    p = write(tmp_path, '[guard]\ndata_dir = "var"\n[measures]\npacks = false\n')
    with Guard.from_config(p, load_entrypoints=False) as g:
        assert (
            Path(g.sources["mirror"].path).resolve() == (tmp_path / "var" / "mirror.db").resolve()
        )


def test_missing_measure_file(tmp_path: Path) -> None:
    p = write(tmp_path, '[measures]\nfiles = ["nope.toml"]\n')
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_config(p).measure_files()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[guard]\nbogus = 1\n", "guard.bogus: unknown setting"),
        ("colour = 'red'\n", "colour: unknown setting"),
        ("[failure]\ndefault = 'sometimes'\n", "failure.default"),
        ("[failure]\nsteps = { 'procurement.*' = 'maybe' }\n", "failure.steps.procurement.*"),
        ("[guard]\ndeadline_ms = 0\n", "guard.deadline_ms"),
        ("[guard]\ncache_ttl_s = -1\n", "guard.cache_ttl_s"),
        ("[[sources]]\nname = 'x'\n", "sources.0.type"),
    ],
)
def test_bad_setting_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}: ") and field in msg


def test_every_problem_reported(tmp_path: Path) -> None:
    p = write(tmp_path, "[guard]\nbogus = 1\n[journal]\nenabled = 'perhaps'\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert "guard.bogus" in msg and "journal.enabled" in msg and len(msg.splitlines()) == 2


def test_bad_toml(tmp_path: Path) -> None:
    p = write(tmp_path, "[guard\ndata_dir = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(p)
    assert str(p) in str(info.value) and "line 1" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")


def test_env_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write(tmp_path, '[guard]\nunit_code = "from-env"\n')
    monkeypatch.setenv(CONFIG_ENV, str(p))
    assert find_config() == p
    assert load_config().guard.unit_code == "from-env"
    other = write(tmp_path, '[guard]\nunit_code = "explicit"\n', name="other.toml")
    assert load_config(other).guard.unit_code == "explicit"  # an argument beats the environment
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=r"gone\.toml"):
        load_config()


def test_unknown_source_type_message(tmp_path: Path) -> None:
    p = write(
        tmp_path, '[guard]\ndata_dir = "."\n[[sources]]\nname = "plat"\ntype = "platform-v9"\n'
    )
    with pytest.raises(ConfigError) as info:
        Guard.from_config(p, load_entrypoints=False)
    msg = str(info.value)
    assert "'plat'" in msg and "'platform-v9'" in msg and "installed types: mirror" in msg
    assert "adapter distribution" in msg


def test_config_from_dict_names_the_source() -> None:
    with pytest.raises(ConfigError, match=r"^<config>: guard.nope: unknown setting$"):
        config_from_dict({"guard": {"nope": 1}})
    with pytest.raises(ConfigError, match=r"^settings.toml: guard.nope"):
        config_from_dict({"guard": {"nope": 1}}, name="settings.toml")


def test_config_is_frozen() -> None:
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        Config().guard.data_dir = "x"  # type: ignore[misc]


def test_paths_stay_put_when_the_working_directory_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from creditguard.config import load_config

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "creditguard.toml").write_text(
        '[guard]\ndata_dir = "var"\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    cfg = load_config("app/creditguard.toml")
    monkeypatch.chdir(tmp_path / "app")
    assert cfg.data_dir == tmp_path / "app" / "var"
