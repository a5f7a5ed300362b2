"""Where a field, a measure or a withdrawal is in a list file's text (for line numbers)."""

from __future__ import annotations

import re

from creditguard.models import MeasureList

__all__ = ["Locator"]


class Locator:
    """Finds the line of a top-level field, a measure or a measure's field in TOML or JSON text.

    Best effort: a line is only reported when it is found unambiguously; a
    problem without a line still names the measure code and field path.
    """

    def __init__(self, text: str | None) -> None:
        self.lines = text.splitlines() if text else []
        self._blocks: dict[str, list[int]] = {}
        for i, line in enumerate(self.lines):
            m = re.match(r"\s*\[\[\s*([A-Za-z_]+)\s*\]\]", line)
            if m:
                self._blocks.setdefault(m.group(1), []).append(i)
        self._first_table = next(
            (i for i, line in enumerate(self.lines) if re.match(r"\s*\[", line)), len(self.lines)
        )

    def _key_line(self, key: str, start: int, end: int) -> int | None:
        pattern = re.compile(rf'^\s*"?{re.escape(key)}"?\s*[.=:]')
        for i in range(start, min(end, len(self.lines))):
            if pattern.match(self.lines[i]):
                return i + 1
        return None

    def top(self, key: str) -> int | None:
        """Line of a top-level key (TOML: before the first table; JSON: anywhere)."""
        line = self._key_line(key, 0, self._first_table)
        return line if line is not None else self._key_line(key, 0, len(self.lines))

    def item(self, array: str, index: int, code: str | None, path: str | None = None) -> int | None:
        """Line of item ``index`` of ``[[array]]`` (or of its ``path``'s first key)."""
        heads = self._blocks.get(array, [])
        if index < len(heads):
            start = heads[index]
            end = heads[index + 1] if index + 1 < len(heads) else len(self.lines)
            # A following table of another kind ends the block too.
            sub = re.compile(rf"\s*\[\s*{re.escape(array)}\.")
            for j in range(start + 1, end):
                if self.lines[j].lstrip().startswith("[") and not sub.match(self.lines[j]):
                    end = j
                    break
            if path:
                key = path.split(".", 1)[0]
                found = self._key_line(key, start + 1, end)
                if found is None:  # a sub-table: [measures.applies_to]
                    for j in range(start + 1, end):
                        if re.match(
                            rf"\s*\[\s*{re.escape(array)}\.{re.escape(key)}\s*\]", self.lines[j]
                        ):
                            return j + 1
                if found is not None:
                    return found
            return start + 1
        if code is not None:  # inline tables or JSON: find the code's own line
            pattern = re.compile(rf"""["']?code["']?\s*[=:]\s*["']{re.escape(code)}["']""")
            hits = [i for i, line in enumerate(self.lines) if pattern.search(line)]
            if len(hits) >= 1:
                return hits[0] + 1
        return None

    def measure(self, index: int, code: str | None, path: str | None = None) -> int | None:
        """Line of measure ``index`` (or of one of its fields)."""
        return self.item("measures", index, code, path)

    def measure_by_code(
        self, lst: MeasureList, code: str, path: str | None = None, nth: int = 0
    ) -> int | None:
        """Line of the ``nth`` measure with ``code`` in ``lst``."""
        seen = 0
        for i, m in enumerate(lst.measures):
            if m.code == code:
                if seen == nth:
                    return self.measure(i, code, path)
                seen += 1
        return None
