"""Every exception class Harmony defines is a ``HarmonyError``: callers catch one base for all of them."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pkgutil
from pathlib import Path

import harmony
from harmony.domain.errors import HarmonyError


def _harmony_exception_classes() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for info in pkgutil.walk_packages(harmony.__path__, prefix="harmony."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_every_exception_class_of_the_package_is_a_harmony_error() -> None:
    classes = _harmony_exception_classes()
    assert len(classes) > 40  # the walk reached the adapters, not only domain.errors
    assert [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, HarmonyError)] == []


# Built-in exceptions the package may raise, and why: programming errors (a wrong type passed, an abstract
# method), assertion helpers for tests, and two raised only to be caught and translated a few lines away.
_ALLOWED_BUILTINS = {
    ("*", "TypeError"),
    ("*", "NotImplementedError"),
    ("testing/__init__.py", "AssertionError"),
    ("infra/nats.py", "TimeoutError"),  # caught in the same function, re-raised as KeyValueUnavailable
    ("infra/posix_shell.py", "ValueError"),  # parse_stat: its caller raises FilesError
}


def test_the_package_raises_no_builtin_exception_except_programming_errors() -> None:
    root = Path(harmony.__file__).parent
    raised: list[str] = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if not isinstance(exc, ast.Name) or not isinstance(getattr(builtins, exc.id, None), type):
                continue
            if ("*", exc.id) not in _ALLOWED_BUILTINS and (relative, exc.id) not in _ALLOWED_BUILTINS:
                raised.append(f"{relative}:{node.lineno}: raise {exc.id}")
    assert raised == []
