"""Every exception class Harmony defines is a ``HarmonyError``: callers catch one base for all of them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

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
