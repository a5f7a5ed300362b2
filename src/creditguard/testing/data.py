"""Loading and saving reference-platform data.

Records use the local mirror's import format: JSON Lines, one
``{"subject": {...}, "record": {...}}`` object per line (spec §4 shapes).
Measure lists are the TOML or JSON files ``creditguard measures`` reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from creditguard.errors import InvalidRecordError
from creditguard.testing.state import PlatformState, check_code

__all__ = ["load_jsonl", "load_measure_files", "save_jsonl"]


def load_jsonl(platform: PlatformState, path: str | os.PathLike[str]) -> int:
    """Add every subject and record of a JSONL file; return the number of records.

    Every line is checked before anything is added; an error names the
    file and line.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidRecordError(f"cannot read: {exc.strerror}", path=str(p)) from None
    rows = list(_parse(lines, str(p)))
    for subject, record in rows:
        code = str(subject.pop("code"))
        platform.add_subject(code, **subject)
        platform.put_raw_record(code, record)
    return len(rows)


def _parse(lines: Iterable[str], name: str) -> Iterable[tuple[dict[str, Any], dict[str, Any]]]:
    rows: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidRecordError(f"not JSON ({exc.msg})", path=name, line=lineno) from None
        if (
            not isinstance(obj, dict)
            or not isinstance(obj.get("subject"), dict)
            or not isinstance(obj.get("record"), dict)
        ):
            raise InvalidRecordError(
                'expected {"subject": {...}, "record": {...}}', path=name, line=lineno
            )
        subject, record = dict(obj["subject"]), dict(obj["record"])
        try:
            subject["code"] = check_code(str(subject.get("code", "")))[0]
        except ValueError as exc:
            raise InvalidRecordError(f"subject.code: {exc}", path=name, line=lineno) from None
        for key in ("record_id", "list_kind", "listed_on", "status"):
            if not record.get(key):
                raise InvalidRecordError(f"record.{key} is missing", path=name, line=lineno)
        rows.append((subject, record))
    return rows


def save_jsonl(platform: PlatformState, path: str | os.PathLike[str]) -> int:
    """Write every record with its subject as JSONL; return the number of lines."""
    pairs = platform.all_records()
    with Path(path).open("w", encoding="utf-8") as fh:
        for subject, record in pairs:
            fh.write(json.dumps({"subject": subject, "record": record}, ensure_ascii=False) + "\n")
    return len(pairs)


def load_measure_files(
    platform: PlatformState, paths: Iterable[str | os.PathLike[str]]
) -> list[str]:
    """Validate and serve measure-list files (TOML or JSON); return their regions."""
    from creditguard.measures.loader import load_measure_list

    regions = []
    for path in paths:
        lst = load_measure_list(Path(path))
        platform.set_measure_list(lst)
        regions.append(lst.region)
    return regions
