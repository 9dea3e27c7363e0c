"""Importing the parts of the package that a build may not have (a technique not written yet)."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType


def import_if_present(name: str) -> ModuleType | None:
    """``import_module(name)``, or None when that module itself does not exist.

    An import error inside the module (a missing dependency, a bug) is raised, never hidden.
    """
    try:
        return import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
