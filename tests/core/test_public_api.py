"""The public surface of docs/api.md holds: ``__all__`` true and documented, no ``Any``, one version."""

from __future__ import annotations

import importlib
import inspect
import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import pytest

import creditguard

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "api.md"


def _modules(section: str) -> list[str]:
    """Module names in the tables of one section of docs/api.md."""
    text = API_DOC.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    found: list[str] = []
    for line in body.splitlines():
        if line.startswith("| `creditguard"):
            first_cell = line.split("|")[1]
            found.extend(re.findall(r"`(creditguard[\w.]*)`", first_cell))
    return found


STABLE = _modules("Stable")
PROVISIONAL = _modules("Provisional: the toolkit for adapters, packs and tests")
ANY = re.compile(r"\bAny\b")
#: ``Any`` is allowed only as the value type of a parsed JSON/TOML document.
JSON_ANY = re.compile(r"(dict|Mapping)\[str, Any\]")


def _docs_text() -> str:
    parts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    parts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(parts)


_DOCS = _docs_text()


def test_the_stability_statement_lists_modules() -> None:
    assert "creditguard" in STABLE and "creditguard.errors" in STABLE
    assert "creditguard.testing" in PROVISIONAL


@pytest.mark.parametrize("name", STABLE + PROVISIONAL)
def test_public_module_all_names_exist_and_are_documented(name: str) -> None:
    module = importlib.import_module(name)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{name} has no __all__"
    assert len(names) == len(set(names)), f"{name}.__all__ repeats a name"
    missing = [attr for attr in names if not hasattr(module, attr)]
    assert missing == [], f"{name}.__all__ names what does not exist"
    undocumented = []
    for attr in names:
        obj = getattr(module, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj) or isinstance(obj, ModuleType):
            documented = bool((obj.__doc__ or "").strip())
        else:  # a constant or a type alias: a ``#:`` comment above it, or a mention in the docs
            documented = attr == "__version__" or attr in _DOCS
            documented = documented or _has_attribute_comment(module, attr)
        if not documented:
            undocumented.append(attr)
    assert undocumented == [], f"{name}: names without a docstring, #: comment or doc mention"


def _has_attribute_comment(module: ModuleType, attr: str) -> bool:
    source = inspect.getsource(module)
    return re.search(rf"^#:.*\n(?:#:.*\n)*{re.escape(attr)}\b", source, flags=re.M) is not None


def _signature_annotations(module: ModuleType) -> list[tuple[str, str]]:
    """(where, annotation) of every public function and method named in ``__all__``."""
    out: list[tuple[str, str]] = []

    def add(fn: object, where: str) -> None:
        fn = inspect.unwrap(fn)  # type: ignore[arg-type]
        if inspect.isfunction(fn):
            for arg, ann in inspect.get_annotations(fn).items():
                out.append((f"{where}({arg})", str(ann)))

    for attr in module.__all__:
        obj = getattr(module, attr)
        if inspect.isfunction(obj):
            add(obj, f"{module.__name__}.{attr}")
        elif inspect.isclass(obj) and obj.__module__.startswith("creditguard"):
            for klass in obj.__mro__:
                if not klass.__module__.startswith("creditguard"):
                    continue
                for meth_name, member in vars(klass).items():
                    if meth_name.startswith("_") and meth_name != "__init__":
                        continue
                    if isinstance(member, property):
                        member = member.fget
                    elif isinstance(member, classmethod | staticmethod):
                        member = member.__func__
                    add(member, f"{module.__name__}.{attr}.{meth_name}")
    return out


@pytest.mark.parametrize("name", STABLE)
def test_stable_signatures_say_no_any(name: str) -> None:
    module = importlib.import_module(name)
    bad = [
        f"{where}: {ann}"
        for where, ann in _signature_annotations(module)
        if ANY.search(JSON_ANY.sub("", ann))
    ]
    assert bad == []


def test_from_config_returns_the_class_it_is_called_on() -> None:
    for cls in (creditguard.Guard, creditguard.AsyncGuard):
        ann = inspect.get_annotations(cls.from_config)["return"]
        assert ann == "Self"
        params = inspect.signature(cls.from_config).parameters
        assert "plugins" in params and not any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
        )


def test_names_users_need_are_exported() -> None:
    from creditguard.case_desk import StepDenied
    from creditguard.config import config_from_dict, load_config

    assert creditguard.StepDenied is StepDenied
    assert creditguard.config_from_dict is config_from_dict
    assert creditguard.load_config is load_config
    assert issubclass(creditguard.StepDenied, creditguard.CreditGuardError)
    assert set(creditguard.__all__) <= set(dir(creditguard))


def test_one_version_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert version("creditguard") == creditguard.__version__


def test_pydantic_has_an_upper_bound() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    [pin] = [d for d in project["dependencies"] if d.startswith("pydantic")]
    assert "<" in pin


def test_every_error_is_in_the_creditguard_error_tree() -> None:
    from creditguard import errors

    for attr in errors.__all__:
        obj = getattr(errors, attr)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert issubclass(obj, errors.CreditGuardError), attr


def test_translated_exceptions_keep_their_cause() -> None:
    """Inside ``except``, a new exception is raised ``from`` the caught one (or ``from None``)."""
    import ast

    roots = [ROOT / "src", *ROOT.glob("adapters/*/src"), *ROOT.glob("plugins/*/src")]
    bare = []
    for root in roots:
        for path in root.rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for handler in ast.walk(tree):
                if not isinstance(handler, ast.ExceptHandler):
                    continue
                for node in ast.walk(handler):
                    if not isinstance(node, ast.Raise) or node.exc is None or node.cause:
                        continue
                    if isinstance(node.exc, ast.Name) and node.exc.id == handler.name:
                        continue  # re-raising the caught exception itself
                    bare.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bare == []
