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


def must_propagate(exc: BaseException) -> bool:
    """Whether ``exc`` stops the program (interrupt, exit, a closed generator) rather than says a file is bad.

    Everything else a reader raises, a Rust library's panic (a ``BaseException``) included,
    is about the file and becomes an ``UnreadableFile``.
    """
    return isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit))


def failure_reason(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, cut to ``limit`` characters."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
