"""Mirror import: conflicts, links, codes, unknown fields, nesting, reports (issue 8 items 3, 12)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from _coredata import ORG_BLACK, ORG_CLEAN, ORG_FOCUS, REP, mirror_rows, resident_id, write_jsonl
from click.testing import CliRunner

from creditguard.cli import main
from creditguard.errors import InvalidRecordError
from creditguard.mirror import ImportRefused, SqliteMirror


def _rep_with_x() -> str:
    """A made-up resident ID number whose check character is X."""
    for seq in range(100, 1000):
        code = resident_id("320105", "19750607", str(seq))
        if code.endswith("X"):
            return code
    raise AssertionError("no sequence gives X")


REP_X = _rep_with_x()


def snapshot(m: SqliteMirror) -> tuple[bytes, list[str]]:
    """The mirror's main file bytes (after a checkpoint) and a full SQL dump."""
    conn = m._conn
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return m.path.read_bytes(), list(conn.iterdump())


def line(subject: dict[str, Any], record: dict[str, Any]) -> str:
    return json.dumps({"subject": subject, "record": record}, ensure_ascii=False)


def black_row() -> dict[str, Any]:
    return copy.deepcopy(mirror_rows()[0])


# --- record ids never move between subjects ----------------------------------------------


def test_record_id_of_another_subject_is_a_conflict(tmp_path: Path, mirror: SqliteMirror) -> None:
    before = snapshot(mirror)
    stolen = black_row()
    stolen["subject"] = {"code": ORG_CLEAN, "kind": "organization", "name": "别的公司"}
    good = copy.deepcopy(mirror_rows()[1])
    good["record"]["record_id"] = "NEW-OK"
    path = write_jsonl(tmp_path / "steal.jsonl", [good, stolen])
    with pytest.raises(ImportRefused) as info:
        mirror.import_jsonl(path)
    msg = str(info.value)
    assert f"{path}:2:" in msg and "JS-BL-1" in msg
    assert ORG_BLACK in msg and ORG_CLEAN in msg and "nothing imported" in msg
    assert info.value.refused == 1 and info.value.lines == 2
    # nothing at all was imported, not even the good line; the first subject keeps its record
    assert snapshot(mirror) == before
    assert [r.record_id for r in mirror.lookup([ORG_BLACK])[ORG_BLACK].records] == ["JS-BL-1"]
    assert mirror.lookup([ORG_CLEAN])[ORG_CLEAN].found is False


def test_conflict_message_masks_persons(tmp_path: Path) -> None:
    m = SqliteMirror(tmp_path / "m.db")
    person = resident_id("320104", "19920315", "246")
    rec = black_row()["record"]
    m.import_lines([line({"code": person, "kind": "person"}, rec)])
    with pytest.raises(ImportRefused) as info:
        m.import_lines([line({"code": ORG_CLEAN}, rec)])
    assert person not in str(info.value) and person[:6] in str(info.value)


# --- links change only when the file says so ----------------------------------------------


def test_line_without_legal_representative_keeps_the_link(
    tmp_path: Path, mirror: SqliteMirror
) -> None:
    new = black_row()
    new["subject"] = {"code": ORG_BLACK, "kind": "organization", "name": "南京某某建设工程有限公司"}
    new["record"]["record_id"] = "JS-BL-2"
    report = mirror.import_jsonl(write_jsonl(tmp_path / "more.jsonl", [new]))
    assert (report.added, report.links_set, report.links_changed, report.links_removed) == (
        1,
        0,
        0,
        0,
    )
    [rec] = mirror.lookup([REP], include_related=True)[REP].records[:1]
    assert rec.via == ORG_BLACK
    subject = mirror.lookup([ORG_BLACK])[ORG_BLACK].subject
    assert subject is not None and subject.legal_representative is not None
    assert subject.legal_representative.code == REP


def test_explicit_null_removes_the_link_and_is_reported(
    tmp_path: Path, mirror: SqliteMirror
) -> None:
    row = black_row()
    row["subject"]["legal_representative"] = None
    report = mirror.import_jsonl(write_jsonl(tmp_path / "unlink.jsonl", [row]))
    assert (report.links_removed, report.subjects_updated, report.unchanged) == (1, 1, 1)
    [change] = report.link_changes
    assert change.subject_code == ORG_BLACK and change.after is None
    assert change.before is not None and REP not in change.before  # masked
    assert mirror.lookup([REP], include_related=True)[REP].records == ()


def test_changed_link_is_reported(tmp_path: Path, mirror: SqliteMirror) -> None:
    row = black_row()
    row["subject"]["legal_representative"] = {"code": REP_X.lower(), "name": "李四"}
    report = mirror.import_jsonl(write_jsonl(tmp_path / "relink.jsonl", [row]))
    assert report.links_changed == 1 and report.changed == 1
    assert mirror.lookup([REP], include_related=True)[REP].records == ()
    [rec] = mirror.lookup([REP_X], include_related=True)[REP_X].records
    assert (rec.record_id, rec.via) == ("JS-BL-1", ORG_BLACK)


def test_two_lines_disagreeing_on_a_link_are_refused(tmp_path: Path) -> None:
    a, b = black_row(), black_row()
    b["record"]["record_id"] = "JS-BL-2"
    b["subject"]["legal_representative"] = {"code": REP_X}
    m = SqliteMirror(tmp_path / "m.db")
    with pytest.raises(ImportRefused, match="legal_representative differs from line 1"):
        m.import_jsonl(write_jsonl(tmp_path / "two.jsonl", [a, b]))


# --- codes validated and normalised ----------------------------------------------------------


def test_lower_case_x_in_the_representative_code_is_normalised(tmp_path: Path) -> None:
    row = black_row()
    row["subject"]["code"] = ORG_BLACK.lower()
    row["subject"]["legal_representative"] = {"code": REP_X.lower(), "name": "李四"}
    m = SqliteMirror(tmp_path / "m.db")
    m.import_jsonl(write_jsonl(tmp_path / "x.jsonl", [row]))
    got = m.lookup([REP_X], include_related=True)[REP_X]
    assert [r.via for r in got.records] == [ORG_BLACK]
    assert m.lookup([ORG_BLACK])[ORG_BLACK].found


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda r: r["subject"].update(legal_representative={"code": "320102198001011234"}),
            "legal_representative.code",
        ),
        (
            lambda r: r["subject"].update(legal_representative={"code": ORG_FOCUS}),
            "must be a resident ID number",
        ),
        (lambda r: r["record"].update(via="not-a-code"), "record.via"),
        (lambda r: r["record"].update(via=REP), "record.via: must be an organisation"),
        (lambda r: r["subject"].update(code=12345), "subject.code: must be text"),
        (
            lambda r: r["subject"].update(code=REP, kind="person"),
            "only organisations have one",
        ),
    ],
)
def test_every_code_is_checked(tmp_path: Path, mutate: Any, needle: str) -> None:
    row = black_row()
    mutate(row)
    m = SqliteMirror(tmp_path / "m.db")
    with pytest.raises(ImportRefused) as info:
        m.import_jsonl(write_jsonl(tmp_path / "bad.jsonl", [row]))
    assert needle in str(info.value)


def test_via_is_normalised(tmp_path: Path) -> None:
    row = black_row()
    row["record"].update(role="legal_representative", via=ORG_FOCUS.lower())
    m = SqliteMirror(tmp_path / "m.db")
    m.import_jsonl(write_jsonl(tmp_path / "via.jsonl", [row]))
    [rec] = m.lookup([ORG_BLACK])[ORG_BLACK].records
    assert rec.via == ORG_FOCUS


# --- unknown fields are errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda r: r["record"].update(expire_on=r["record"].pop("expires_on")),
            "record: unknown field 'expire_on' (did you mean \"expires_on\"?)",
        ),
        (lambda r: r["record"].update(case_amount=1), 'extra data goes under "extensions"'),
        (
            lambda r: r["subject"].update(nmae="x"),
            "subject: unknown field 'nmae' (did you mean \"name\"?)",
        ),
        (lambda r: r["record"]["authority"].update(nam="x"), "record.authority: unknown field"),
        (
            lambda r: r["subject"]["legal_representative"].update(cod="x"),
            "subject.legal_representative: unknown field",
        ),
        (lambda r: r.update(recrod={}), "line: unknown field 'recrod' (did you mean \"record\"?)"),
        (lambda r: r["record"].update(extensions=[1]), "record.extensions: must be an object"),
        (
            lambda r: r["record"].update(
                status_history=[{"status": "listed", "date": "2025-01-01"}]
            ),
            "record.status_history.0: unknown field 'date'",
        ),
    ],
)
def test_unknown_fields_are_errors(tmp_path: Path, mutate: Any, needle: str) -> None:
    row = black_row()
    mutate(row)
    m = SqliteMirror(tmp_path / "m.db")
    with pytest.raises(ImportRefused) as info:
        m.import_jsonl(write_jsonl(tmp_path / "bad.jsonl", [row]))
    assert needle in str(info.value)
    assert m.count() == (0, 0)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda r: r["record"].update(listed_on=0), "record.listed_on: must be a date written"),
        (lambda r: r["record"].update(expires_on="2025/01/01"), "record.expires_on"),
        (lambda r: r["record"].update(public="true"), "record.public: must be true or false"),
        (lambda r: r["subject"].update(name=["x"]), "subject.name: must be text"),
        (lambda r: r.update(record=[]), '"record" must be an object'),
        (
            lambda r: r["record"].update(
                status_history=[{"status": "listed", "on": "2025-01-01"}], status="repaired"
            ),
            "must equal status",
        ),
        (
            lambda r: r["record"].update(
                status_history=[
                    {"status": "repaired", "on": "2025-03-01"},
                    {"status": "listed", "on": "2025-01-01"},
                ]
            ),
            "oldest first",
        ),
    ],
)
def test_values_are_checked(tmp_path: Path, mutate: Any, needle: str) -> None:
    row = black_row()
    mutate(row)
    m = SqliteMirror(tmp_path / "m.db")
    with pytest.raises(ImportRefused) as info:
        m.import_jsonl(write_jsonl(tmp_path / "bad.jsonl", [row]))
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested more than"),
        (
            '{"subject": {"code": "'
            + ORG_CLEAN
            + '"}, "record": {"extensions": {"a": '
            + "[" * 50
            + "]" * 50
            + "}}}",
            "nested more than",
        ),
        ('{"subject": 1, "subject": 2, "record": {}}', "field 'subject' appears twice"),
        ('{"subject": {"code": "x"}, "record": {"record_id": NaN}}', "NaN is not a JSON number"),
    ],
)
def test_hostile_json_is_a_typed_error(tmp_path: Path, text: str, needle: str) -> None:
    m = SqliteMirror(tmp_path / "m.db")
    with pytest.raises(InvalidRecordError) as info:
        m.import_lines([text], name="f.jsonl")
    assert f"f.jsonl:1: {needle}" in str(info.value)


def test_deep_extensions_refused(tmp_path: Path) -> None:
    row = black_row()
    deep: Any = 1
    for _ in range(40):
        deep = {"a": deep}
    row["record"]["extensions"] = deep
    m = SqliteMirror(tmp_path / "m.db")
    with pytest.raises(ImportRefused, match="nested more than"):
        m.import_jsonl(write_jsonl(tmp_path / "deep.jsonl", [row]))


def test_overlong_line_refused_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    with path.open("wb") as fh:
        fh.write(b'{"x": "' + b"a" * (2 << 20) + b'"}\n')
        fh.write(json.dumps(black_row()).encode() + b"\n")
        fh.write(b"nope\n")
    m = SqliteMirror(tmp_path / "m.db")
    with pytest.raises(ImportRefused) as info:
        m.import_jsonl(path)
    msg = str(info.value)
    assert f"{path}:1: line longer than 1024 KiB" in msg and f"{path}:3: not JSON" in msg
    assert f"{path}:2:" not in msg and info.value.refused == 2


def test_byte_order_mark_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(black_row(), ensure_ascii=False).encode() + b"\n")
    report = SqliteMirror(tmp_path / "m.db").import_jsonl(path)
    assert report.added == 1


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    m = SqliteMirror(tmp_path / "m.db")
    with pytest.raises(ImportRefused, match="no records"):
        m.import_jsonl(path)
    assert m.stats().loaded_at is None


# --- reports -------------------------------------------------------------------------------------


def test_report_counts_added_updated_unchanged(tmp_path: Path, mirror: SqliteMirror) -> None:
    rows = copy.deepcopy(mirror_rows())
    rows[1]["record"]["status"] = "rectified"
    rows.append(
        {"subject": {"code": ORG_CLEAN}, "record": {**rows[0]["record"], "record_id": "N-1"}}
    )
    report = mirror.import_jsonl(write_jsonl(tmp_path / "next.jsonl", rows))
    assert (report.added, report.updated, report.unchanged, report.refused) == (1, 1, 7, 0)
    assert (report.subjects, report.subjects_added, report.subjects_updated) == (7, 1, 0)
    assert report.changed == 3
    assert report.summary().startswith("3 changed (records: 1 added, 1 updated, 7 unchanged")


def test_dry_run_keeps_nothing(tmp_path: Path, mirror: SqliteMirror) -> None:
    before = snapshot(mirror)
    row = black_row()
    row["record"]["record_id"] = "DRY-1"
    report = mirror.import_jsonl(write_jsonl(tmp_path / "dry.jsonl", [row]), dry_run=True)
    assert report.added == 1
    assert snapshot(mirror)[1] == before[1]


def test_import_file_is_owner_only(tmp_path: Path, records_file: Path) -> None:
    m = SqliteMirror(tmp_path / "new" / "mirror.db")
    m.import_jsonl(records_file)
    assert m.path.stat().st_mode & 0o777 == 0o600


# --- the command -------------------------------------------------------------------------------


def test_cli_reimport_says_zero_changed(tmp_path: Path, records_file: Path) -> None:
    db = tmp_path / "cli.db"
    runner = CliRunner()
    first = runner.invoke(main, ["mirror", "import", str(records_file), "--path", str(db)])
    assert first.exit_code == 0, first.output
    assert "14 changed (records: 8 added" in first.output and "links: 1 set" in first.output
    again = runner.invoke(main, ["mirror", "import", str(records_file), "--path", str(db)])
    assert again.exit_code == 0 and "imported" in again.output
    assert ": 0 changed (records: 0 added, 0 updated, 8 unchanged, 0 refused" in again.output
    js = runner.invoke(main, ["mirror", "import", str(records_file), "--path", str(db), "--json"])
    data = json.loads(js.output)
    assert (data["changed"], data["unchanged"], data["refused"]) == (0, 8, 0)


def test_cli_refused_import_exits_1_naming_the_line(tmp_path: Path) -> None:
    row = black_row()
    row["record"]["expire_on"] = "2021-01-01"
    path = write_jsonl(tmp_path / "bad.jsonl", [row])
    result = CliRunner().invoke(
        main, ["mirror", "import", str(path), "--path", str(tmp_path / "m.db")]
    )
    assert result.exit_code == 1
    assert f"{path}:1:" in result.output and "expire_on" in result.output


def test_cli_import_needs_a_config_or_a_path(
    tmp_path: Path, records_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDITGUARD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["mirror", "import", str(records_file)])
    assert result.exit_code == 2
    assert not (tmp_path / ".creditguard").exists()


def test_cli_import_into_the_configured_mirror(tmp_path: Path, records_file: Path) -> None:
    cfg = tmp_path / "creditguard.toml"
    cfg.write_text(
        '[guard]\ndata_dir = "var"\n\n[[sources]]\nname = "local"\ntype = "mirror"\n'
        'path = "db/m.db"\nmax_age_s = 3600\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(main, ["mirror", "import", str(records_file), "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "db" / "m.db").exists()
    stats = runner.invoke(main, ["mirror", "stats", "--config", str(cfg), "--json"])
    data = json.loads(stats.output)
    assert (data["records"], data["usable"], data["max_age_s"]) == (8, True, 3600)
    assert data["speaks_for_platform"] is False


def test_readme_import_line_imports(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The local mirror", 1)[1].split("\n## ", 1)[0]
    example = section.split("```json\n", 1)[1].split("```", 1)[0]
    report = SqliteMirror(tmp_path / "m.db").import_lines(example.splitlines())
    assert (report.added, report.links_set, report.refused) == (1, 1, 0)
