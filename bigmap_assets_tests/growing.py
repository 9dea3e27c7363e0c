"""A cycler file written in steps, as an operando cycler does, for the growing-file tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def header_and_rows(mpt: Path) -> tuple[bytes, list[bytes]]:
    """The header lines (their count is on line 2) and the data rows of an EC-Lab .mpt."""
    lines = mpt.read_bytes().splitlines(keepends=True)
    count = int(lines[1].split(b":")[1])
    return b"".join(lines[:count]), lines[count:]


def growing_file(raw: Path, header: bytes, rows: list[bytes], cuts) -> Iterator[None]:
    """Create ``raw`` with ``header``, then yield after appending each ``rows[a:b]`` of consecutive ``cuts``."""
    raw.parent.mkdir(parents=True)
    with open(raw, "wb") as fh:
        fh.write(header)
        for start, end in zip(cuts, cuts[1:]):
            fh.writelines(rows[start:end])
            fh.flush()
            yield
