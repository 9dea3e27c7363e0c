"""Seeded file mutations for fuzzing the readers (deterministic for a seed; no extra dependency).

``mutants(data, rng, count)`` yields ``(label, bytes)``: byte-level damage (flipped bits,
overwritten, duplicated, deleted or inserted chunks, truncation) and, for text, line-level
damage (a line dropped, repeated or cut short, CR-only line ends, a stray byte in a row).
``outcome(path)`` reads one file and sorts the result into ok / clean error / memory / other.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.readers import read

INTERESTING = (b"\x00", b"\xff", b"\x80", b"\r", b"\n", b"\t", b",", b";", b"#", b"-", b".", b"e", b"9" * 12,
               b"NaN", b"\x00" * 8, b"\xff" * 8)
SEED_SUFFIXES = {".mpr", ".mpt", ".nda", ".ndax", ".res", ".csv", ".txt", ".041", ".xlsx", ".xdi", ".h5", ".nxs",
                 ".dat", ".001"}


def seed_files(realdata: Path, max_byte: int = 3 * 2**20, every: bool = False) -> list[Path]:
    """One real file per folder and suffix (the first by name), small enough to mutate quickly;
    with ``every``, all of them."""
    chosen: dict[tuple[Path, str], list[Path]] = {}
    for path in sorted(realdata.rglob("*")):
        if path.is_file() and path.suffix.lower() in SEED_SUFFIXES and path.stat().st_size <= max_byte:
            chosen.setdefault((path.parent, path.suffix.lower()), []).append(path)
    return sorted(path for paths in chosen.values() for path in (paths if every else paths[:1]))


def _is_text(data: bytes) -> bool:
    head = data[:4096]
    return b"\x00" not in head and head.count(b"\n") + head.count(b"\r") >= 3


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One mutant of ``data`` and a label saying what was done."""
    kinds = ["flip", "overwrite", "duplicate", "delete", "insert", "truncate"]
    if _is_text(data):
        kinds += ["drop_line", "repeat_line", "cut_line", "cr_only", "stray_byte"] * 2
    kind = rng.choice(kinds)
    size = len(data)
    at = rng.randrange(size) if size else 0
    chunk = rng.choice((1, 4, 16, 64, 256, 1024))
    if kind == "flip":
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(size)
            mutated[i] ^= 1 << rng.randrange(8)
        return f"flip@{at}", bytes(mutated)
    if kind == "overwrite":
        value = rng.choice(INTERESTING)
        return f"overwrite@{at}:{value!r}", data[:at] + value + data[at + len(value):]
    if kind == "duplicate":
        source = rng.randrange(size)
        return f"duplicate{chunk}@{source}->{at}", data[:at] + data[source:source + chunk] + data[at + chunk:]
    if kind == "delete":
        return f"delete{chunk}@{at}", data[:at] + data[at + chunk:]
    if kind == "insert":
        return f"insert{chunk}@{at}", data[:at] + rng.randbytes(chunk) + data[at:]
    if kind == "truncate":
        return f"truncate@{at}", data[:at]
    if kind == "cr_only":
        return "cr_only", data.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    if kind == "drop_line":
        del lines[i]
    elif kind == "repeat_line":
        lines.insert(i, lines[i])
    elif kind == "cut_line":
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    else:  # stray_byte
        j = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:j] + rng.choice(INTERESTING) + lines[i][j:]
    return f"{kind}@line{i + 1}", b"\n".join(lines)


def mutants(data: bytes, rng: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    for _ in range(count):
        yield mutate(data, rng)


def outcome(path: Path) -> tuple[str, str, float]:
    """``("ok" | "clean" | "memory" | "other", detail, seconds)`` of reading ``path``: a table, an
    ``UnreadableFile``, one caused by running out of memory, or anything else (an exception that
    escaped: a bug)."""
    started = time.perf_counter()
    try:
        table = read(path)
        return "ok", f"{table.num_rows} rows", time.perf_counter() - started
    except UnreadableFile as exc:
        out_of_memory = isinstance(exc.__cause__, MemoryError) or "of memory a read may use" in exc.reason
        kind = "memory" if out_of_memory else "clean"
        return kind, exc.reason, time.perf_counter() - started
    except BaseException as exc:  # noqa: BLE001 - what the fuzzer is looking for
        if isinstance(exc, KeyboardInterrupt):
            raise
        return "other", f"{type(exc).__name__}: {exc}", time.perf_counter() - started
