"""Plug-in discovery: every module of a package that defines a given attribute."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType
from typing import Any


def modules_defining(package: ModuleType, attribute: str) -> Iterator[Any]:
    """The `attribute` of each module in `package` that has one, in module-name order."""
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if hasattr(module, attribute):
            yield getattr(module, attribute)
