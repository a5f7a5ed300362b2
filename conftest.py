"""Suite-wide privacy watch (issue 8 item 10): no test scenario may show a person's number whole.

Loaded for every test path of the repository (tests, plugins, adapters,
examples). For the whole session it

* lets creditguard's loggers emit at DEBUG and httpx's at INFO (the level of its
  request lines, which carry URLs) and collects every record at the root;
* collects each test's captured stdout, stderr and log text, and the output of
  every ``click.testing.CliRunner`` invocation;

and fails the session, naming the tests, when any of it contains a resident ID
number unmasked (:func:`creditguard.masking.unmasked_numbers`: every number
that could be a person's; valid organisation codes are public). A test that
shows a number whole on purpose (``--unmask``) says so with
``@pytest.mark.shows_personal_data``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest

_violations: dict[str, set[str]] = {}
_current: list[str] = ["(outside a test)"]
_exempt: set[str] = set()


def _scan(text: str, where: str | None = None) -> None:
    from creditguard.masking import unmasked_numbers

    node = where or _current[0]
    if node in _exempt or not text:
        return
    found = unmasked_numbers(text)
    if found:
        _violations.setdefault(node, set()).update(found)


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_text:
                text += "\n" + record.exc_text
            elif record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
        except Exception:  # a malformed record is logging's problem, not ours
            return
        _scan(text)


_collector = _Collector(logging.DEBUG)
_saved_levels: dict[str, int] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "shows_personal_data: the test shows a person's number whole on purpose"
    )
    import creditguard  # noqa: F401  - installs the log masking, as any use of creditguard does

    for name, level in (("creditguard", logging.DEBUG), ("httpx", logging.INFO)):
        logger = logging.getLogger(name)
        _saved_levels[name] = logger.level
        logger.setLevel(level)
    logging.getLogger().addHandler(_collector)
    _patch_cli_runner()


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_collector)
    for name, level in _saved_levels.items():
        logging.getLogger(name).setLevel(level)


def _patch_cli_runner() -> None:
    try:
        from click.testing import CliRunner
    except ImportError:  # pragma: no cover - click is a core dependency
        return
    original = CliRunner.invoke
    if getattr(original, "_privacy_watch", False):
        return

    def invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        _scan(result.output)
        with contextlib.suppress(ValueError):  # stderr not captured separately
            _scan(result.stderr)
        return result

    invoke._privacy_watch = True  # type: ignore[attr-defined]
    CliRunner.invoke = invoke  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _current[0] = item.nodeid
    if item.get_closest_marker("shows_personal_data") is not None:
        _exempt.add(item.nodeid)
    try:
        return (yield)
    finally:
        _current[0] = "(outside a test)"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for text in (report.capstdout, report.capstderr, report.caplog):
        _scan(text, report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _violations and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _violations:
        return
    from creditguard.masking import mask_code

    terminalreporter.section("privacy watch: resident ID numbers shown unmasked", red=True)
    for node, numbers in sorted(_violations.items()):
        shown = ", ".join(sorted(mask_code(n, "person") for n in numbers))
        terminalreporter.write_line(f"{node}: {shown}")
