"""Stream a generated multi-gigabyte EC-Lab .mpt into Parquet and report speed and peak memory.

    python benchmarks/stream_mpt.py [--size-gb 2] [--batch-rows 1000000] [--keep]

The file is made in /tmp from a real GCPL export (../shared/realdata, yadg gcpl.issue_211.mpt:
80 header lines, 42 columns) by repeating its data rows until it reaches ``--size-gb``. It is
then read with ``readers.streaming.iter_batches`` and written batch by batch with a
``pyarrow.parquet.ParquetWriter`` (one row group per batch), as the lake writer would.
Peak memory is the process's maximum resident set size (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import pyarrow.parquet as pq

from bigmap_assets.readers.streaming import iter_batches

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("BIGMAP_REALDATA", REPO.parent / "shared" / "realdata"))
SOURCE = REALDATA / "cycling" / "eclab" / "yadg" / "gcpl.issue_211.mpt"


def generate(target: Path, size_bytes: int, source: Path = SOURCE) -> None:
    """``source``'s header, then its data rows repeated until the file holds ``size_bytes``."""
    data = source.read_bytes()
    header_count = int(data.split(b"\n", 2)[1].split(b":")[1])
    offset = 0
    for _ in range(header_count):
        offset = data.index(b"\n", offset) + 1
    header, body = data[:offset], data[offset:]
    with open(target, "wb") as out:
        out.write(header)
        written = len(header)
        while written < size_bytes:
            out.write(body)
            written += len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--batch-rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated .mpt and .parquet")
    args = parser.parse_args()
    target = Path(f"/tmp/bigmap_stream_{args.size_gb:g}gb.mpt")
    parquet = target.with_suffix(".parquet")
    if not target.exists() or target.stat().st_size < args.size_gb * 1e9:
        started = time.perf_counter()
        generate(target, int(args.size_gb * 1e9))
        print(f"generated {target} ({target.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    rows = batches = 0
    writer = None
    try:
        for batch in iter_batches(target, batch_rows=args.batch_rows):
            writer = writer or pq.ParquetWriter(parquet, batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
            batches += 1
    finally:
        if writer is not None:
            writer.close()
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"streamed {target.stat().st_size / 1e9:.2f} GB: {rows:,} rows in {batches} batches, {seconds:.1f} s "
          f"({rows / seconds:,.0f} rows/s, {target.stat().st_size / 1e6 / seconds:.0f} MB/s); "
          f"peak RSS {peak_mib:.0f} MiB; Parquet {parquet.stat().st_size / 1e6:.0f} MB")
    if not args.keep:
        target.unlink()
        parquet.unlink()


if __name__ == "__main__":
    main()
