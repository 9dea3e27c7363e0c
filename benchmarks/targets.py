"""A benchmark's verdict on a target, kept for ``benchmarks/scale.py`` to print beside the others.

``record`` appends one JSON line to the file named by ``$BIGMAP_TARGETS_FILE`` (nothing when it is
unset, so each benchmark still runs alone) and returns whether the target is met.
"""

from __future__ import annotations

import json
import os

TARGETS_FILE_ENV = "BIGMAP_TARGETS_FILE"


def record(target: str, measured: float, limit: float, unit: str, *, at_least: bool = False, note: str = "") -> bool:
    """Whether ``measured`` meets ``limit`` (below it, or at least it with ``at_least``); kept when asked."""
    met = measured >= limit if at_least else measured < limit
    path = os.environ.get(TARGETS_FILE_ENV)
    if path:
        line = {"target": target, "measured": measured, "limit": limit, "unit": unit, "at_least": at_least,
                "met": met, "note": note}
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
    return met
