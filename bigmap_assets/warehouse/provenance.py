"""Provenance: content hashes of raw files and the version of the code that made a row."""

from __future__ import annotations

import hashlib
import subprocess
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

CHUNK = 1 << 20


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version, plus the git commit when running from a checkout (``0.1.0+g1a2b3c4``)."""
    from .. import __version__

    repo = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=10", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}" if commit else __version__


def stamp(table: pa.Table, source_file: str, source_sha256: str) -> pa.Table:
    """Add (or overwrite) the provenance columns ``source_file``, ``source_sha256``, ``code_version``."""
    n = table.num_rows
    for name, value in (("source_file", source_file), ("source_sha256", source_sha256), ("code_version", code_version())):
        column = pa.array([value] * n, pa.string())
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, column)
        else:
            table = table.append_column(name, column)
    return table
