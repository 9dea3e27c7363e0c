"""Errors the pipeline raises on purpose, each with a reason a person can act on."""

from __future__ import annotations

from pathlib import Path


class UnreadableFile(Exception):
    """A raw file that cannot be used: names the file and says why.

    Readers raise it; the Dagster layer records it in ``ingest_issues`` and goes on
    with the other files. ``location`` optionally pins the problem (a line, a sheet cell).
    """

    def __init__(self, path: str | Path, reason: str, location: str | None = None):
        self.path = str(path)
        self.reason = reason
        self.location = location
        where = f" ({location})" if location else ""
        super().__init__(f"{self.path}{where}: {reason}")
