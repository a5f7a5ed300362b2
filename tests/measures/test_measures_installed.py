"""Which lists are in force for a configuration (issue 8 item 7): example packs only by name,
a file and a pack for one region are a conflict, and every list names its origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _measure_lists import head, measure, write
from click.testing import CliRunner

from creditguard.cli import main
from creditguard.config import config_from_dict
from creditguard.errors import ConfigError
from creditguard.hookspecs import hookimpl
from creditguard.measures import parse_measure_list
from creditguard.measures.installed import build_catalog
from creditguard.plugins import Hooks, build_plugin_manager

ON = "2026-03-02"
NATIONAL = parse_measure_list(
    head("000000", "n1", published="2025-01-01", effective="2025-01-01")
    + measure("ST-01", steps='["procurement.*"]')
)
EXAMPLE = parse_measure_list(
    head("320100", "9.9", extends="000000", published="2025-01-01", effective="2025-01-01")
    + 'standing = "example"\n'
    + measure("NJ-01", steps='["procurement.bid"]', domains='["procurement"]')
)


class Pack:
    """A pack registering the given lists (registered under ``name``)."""

    def __init__(self, *lists: Any) -> None:
        self.lists = lists

    @hookimpl
    def creditguard_register_measures(self, register: Any) -> None:
        for lst in self.lists:
            register(lst)


def hooks() -> Hooks:
    pm = build_plugin_manager(load_entrypoints=False)
    pm.register(Pack(NATIONAL), name="national-pack")
    pm.register(Pack(EXAMPLE), name="nanjing-example")
    return Hooks(pm)


def config(tmp_path: Path, **measures: Any) -> Any:
    return config_from_dict({"measures": measures}, base_dir=tmp_path)


def test_packs_true_leaves_example_packs_out_and_says_so(tmp_path: Path) -> None:
    catalog = build_catalog(config(tmp_path, packs=True), hooks())
    assert catalog.regions == ["000000"]
    assert catalog.resolve("320100", __import__("datetime").date(2026, 3, 2)).region == "000000"
    assert any("nanjing-example" in n and "not in force" in n for n in catalog.notes)


def test_example_pack_in_force_only_when_named(tmp_path: Path) -> None:
    catalog = build_catalog(config(tmp_path, packs=["national-pack", "nanjing-example"]), hooks())
    assert catalog.regions == ["000000", "320100"]
    origin = catalog.origin("320100", "9.9")
    assert origin is not None and (origin.kind, origin.name) == ("pack", "nanjing-example")


def test_unknown_pack_name_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nanjing-exampel.*did you mean \"nanjing-example\""):
        build_catalog(config(tmp_path, packs=["national-pack", "nanjing-exampel"]), hooks())


def test_file_and_pack_for_one_region_are_a_conflict(tmp_path: Path) -> None:
    # A real 320100 list with an older version must not be silently superseded.
    own = head("320100", "2024.1", extends="000000", published="2024-01-01", effective="2024-01-01")
    write(
        tmp_path, "nanjing.toml", own + measure("NJ-01", steps='["subsidy.*"]', effect="restrict")
    )
    cfg = config(tmp_path, files=["nanjing.toml"], packs=["national-pack", "nanjing-example"])
    with pytest.raises(ConfigError) as info:
        build_catalog(cfg, hooks())
    text = str(info.value)
    assert "region 320100" in text and "nanjing.toml" in text and "pack nanjing-example" in text
    assert "conflict" in text


def test_two_files_of_one_region_are_not_a_conflict(tmp_path: Path) -> None:
    for v, day in (("2026.1", "2026-01-01"), ("2026.2", "2026-06-01")):
        text = head("320100", v, extends="000000", published=day, effective=day)
        write(
            tmp_path,
            f"nj-{v}.toml",
            text + measure("NJ-01", steps='["subsidy.*"]', effect="restrict"),
        )
    catalog = build_catalog(config(tmp_path, files=["nj-*.toml"], packs=["national-pack"]), hooks())
    assert [lst.version for lst in catalog.versions("320100")] == ["2026.1", "2026.2"]
    origin = catalog.origin("320100", "2026.2")
    assert origin is not None and origin.kind == "file" and origin.name.endswith("nj-2026.2.toml")


def test_region_levels_may_only_be_stricter(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="may only be stricter"):
        build_catalog(
            config(
                tmp_path, packs=False, rights_limiting_levels={"330000": ["normative_document"]}
            ),
            hooks(),
        )


def test_a_stricter_region_rejects_a_file_49_would_accept(tmp_path: Path) -> None:
    from creditguard.errors import MeasureListError

    text = head("330100", "1", published="2026-01-01", effective="2026-01-01") + measure(
        "ZJ-01", effect="restrict", steps='["subsidy.*"]', basis='"《上海市社会信用条例》第三十条"'
    )
    write(tmp_path, "zj.toml", text)
    lenient = config(tmp_path, files=["zj.toml"], packs=False)
    assert build_catalog(lenient, hooks()).regions == ["330100"]
    strict = config(
        tmp_path,
        files=["zj.toml"],
        packs=False,
        rights_limiting_levels={"330000": ["law", "administrative_regulation"]},
    )
    with pytest.raises(MeasureListError, match="in region 330100 it needs one of"):
        build_catalog(strict, hooks())


def test_guard_uses_the_same_rules(tmp_path: Path) -> None:
    from creditguard import Guard

    own = head("000000", "2024.1", published="2024-01-01", effective="2024-01-01")
    write(
        tmp_path, "national.toml", own + measure("N-01", steps='["subsidy.*"]', effect="restrict")
    )
    raw = {
        "guard": {"data_dir": str(tmp_path)},
        "sources": [{"name": "mirror", "type": "mirror"}],
        "measures": {"files": ["national.toml"], "packs": True},
        "journal": {"enabled": False},
    }
    with pytest.raises(ConfigError, match=r"region 000000: pack .* and file .*national.toml"):
        Guard(
            config_from_dict(raw, base_dir=tmp_path),
            plugins=[Pack(NATIONAL)],
            load_entrypoints=False,
        )


def test_show_names_where_each_list_came_from(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo" / "creditguard.toml"
    result = CliRunner().invoke(
        main, ["measures", "show", "--region", "320100", "--at", ON, "--config", str(demo)]
    )
    assert result.exit_code == 0, result.output
    assert "320100 2026.1 from pack measures-jiangsu-example; example" in result.output
    assert "000000 2025.1 from pack measures-statutes; compilation" in result.output
    result = CliRunner().invoke(
        main,
        ["measures", "show", "--region", "320100", "--at", ON, "--json", "--config", str(demo)],
    )
    import json

    chain = json.loads(result.output)["chain"]
    assert chain[0]["origin"] == "pack measures-jiangsu-example"


def test_show_without_config_leaves_the_example_pack_out() -> None:
    result = CliRunner().invoke(main, ["measures", "show", "--region", "320100", "--at", ON])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].endswith(": 000000 2025.1")
    assert "measures-jiangsu-example: example lists, not in force" in result.output
