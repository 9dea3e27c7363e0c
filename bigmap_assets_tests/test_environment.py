"""The environment the tests run in is exactly requirements.lock: every locked package at its version,
nothing else (besides the project itself)."""

from __future__ import annotations

import os
import re
import sys
from importlib.metadata import distributions
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked_packages(text: str) -> dict[str, str]:
    """``{canonical name: version}`` of the lock's pins whose environment marker holds here."""
    pins = {}
    for line in text.splitlines():
        match = PIN.match(line)
        if match and (match[3] is None or Marker(match[3]).evaluate()):
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def installed_packages() -> dict[str, str]:
    found = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    found.pop("bigmap-assets", None)
    return found


def test_lock_pins_parse():
    pins = locked_packages("dask==2026.8.0 \\\nnumpy==2.4.6 ; python_full_version < '3.12' \\\n"
                           "numpy==2.5.5 ; python_full_version >= '3.12' \\\n    --hash=sha256:ab \\\n")
    assert pins["dask"] == "2026.8.0"
    assert pins["numpy"] == ("2.4.6" if sys.version_info < (3, 12) else "2.5.5")


def test_installed_environment_equals_the_lock():
    if not os.environ.get("BIGMAP_REQUIRE_LOCKED_ENV"):  # set by ./dev test, which installs the lock first
        pytest.skip("not run through ./dev test: this environment was not made from requirements.lock")
    locked, installed = locked_packages(LOCK.read_text()), installed_packages()
    differing = {name: (locked.get(name), installed.get(name)) for name in locked.keys() | installed.keys()
                 if locked.get(name) != installed.get(name)}
    assert differing == {}, "package: (locked, installed) " + repr(differing)
