"""Delta Lake (delta-rs) against Apache Iceberg (pyiceberg, SQL catalog) on our write pattern.

    python benchmarks/table_formats.py [--samples 8] [--rows 100000] [--appends 10]

Starts moto's S3 server on localhost (the tests' ``s3server``), then for each format, on a local
folder and in a bucket: writes ``--samples`` partitions of ``--rows`` cycling-like rows (the first
write of each sample), overwrites one sample's partition (the re-ingest of one cell), appends ``--appends`` times to one
growing partition (each append replaces the tail part by final rows and writes a new tail, as
``Lake.append``), compacts that partition, and runs one DuckDB aggregate over the format's Arrow
dataset. Both tables are partitioned by sample and part (``bigmap_part``), as ``DeltaLake``
stores them, so an append replaces only the tail's files; compaction is ours (the sample's
rows rewritten as one part in one commit), the same for both formats. Times are wall seconds
of one run (shared machine: compare within a row).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bigmap_assets_tests.s3server import new_bucket, s3_server  # noqa: E402



def cycling_rows(sample: str, rows: int, part: int, start: int = 0) -> pa.Table:
    index = np.arange(start, start + rows)
    return pa.table({
        "sample_id": pa.array([sample] * rows),
        "bigmap_part": pa.array(np.full(rows, part, dtype=np.int32)),
        "test_time_second": index * 10.0,
        "cycle_index": (index // 500).astype(np.int64),
        "voltage_volt": 3.0 + 1.2 * np.sin(index / 300.0),
        "current_ampere": np.where((index // 250) % 2 == 0, 0.5, -0.5),
        "charge_ampere_hour": np.cumsum(np.full(rows, 1e-4)),
        "temperature_celsius": 25.0 + np.random.default_rng(part).normal(0, 0.1, rows),
    })


class Delta:
    name = "delta"

    def __init__(self, uri: str, options: dict):
        from deltalake import DeltaTable, write_deltalake
        self.uri, self.options, self._dt, self._write = uri, options, DeltaTable, write_deltalake

    def write(self, table: pa.Table, sample: str, min_part: int = 0) -> None:
        predicate = f"sample_id = '{sample}' AND bigmap_part >= {min_part}"
        self._write(self.uri, table, mode="overwrite", predicate=predicate, partition_by=["sample_id", "bigmap_part"],
                    storage_options=self.options)

    def compact(self, sample: str) -> None:
        rows = self._dt(self.uri, storage_options=self.options).to_pyarrow_dataset(
            partitions=[("sample_id", "=", sample)]).to_table()
        rows = rows.set_column(rows.schema.get_field_index("bigmap_part"), "bigmap_part",
                               pa.array([0] * rows.num_rows, pa.int32()))
        self.write(rows.select(cycling_rows("s", 1, 0).column_names), sample)

    def dataset(self):
        return self._dt(self.uri, storage_options=self.options).to_pyarrow_dataset()


class Iceberg:
    name = "iceberg"

    def __init__(self, uri: str, options: dict, folder: Path):
        from pyiceberg.catalog.sql import SqlCatalog
        from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual
        from pyiceberg.transforms import IdentityTransform
        self.expr = (And, EqualTo, GreaterThanOrEqual)
        props = {"uri": f"sqlite:///{folder / 'catalog.db'}", "warehouse": uri}
        if options:
            props |= {"s3.endpoint": options["AWS_ENDPOINT_URL"], "s3.access-key-id": options["AWS_ACCESS_KEY_ID"],
                      "s3.secret-access-key": options["AWS_SECRET_ACCESS_KEY"], "s3.region": options["AWS_REGION"]}
        self.catalog = SqlCatalog("bench", **props)
        self.catalog.create_namespace("lake")
        schema = cycling_rows("s", 1, 0).schema
        self.table = self.catalog.create_table("lake.cycling", schema=schema)
        with self.table.update_spec() as spec:
            spec.add_field("sample_id", IdentityTransform(), "sample_id")
            spec.add_field("bigmap_part", IdentityTransform(), "bigmap_part")
        self.table = self.catalog.load_table("lake.cycling")

    def write(self, table: pa.Table, sample: str, min_part: int = 0) -> None:
        And, EqualTo, GreaterThanOrEqual = self.expr
        self.table.overwrite(table, overwrite_filter=And(EqualTo("sample_id", sample),
                                                         GreaterThanOrEqual("bigmap_part", min_part)))

    def compact(self, sample: str) -> None:
        _, EqualTo, _ = self.expr
        rows = self.table.scan(row_filter=EqualTo("sample_id", sample)).to_arrow()
        rows = rows.set_column(rows.schema.get_field_index("bigmap_part"), "bigmap_part",
                               pa.array([0] * rows.num_rows, pa.int32()))
        self.table.overwrite(rows, overwrite_filter=EqualTo("sample_id", sample))

    def dataset(self):
        import pyarrow.dataset as ds
        return ds.dataset(self.table.scan().to_arrow())  # pyiceberg plans the files and reads them itself


def run(fmt, samples: int, rows: int, appends: int) -> dict[str, float]:
    times = {}
    start = time.perf_counter()
    for k in range(samples):
        fmt.write(cycling_rows(f"cell{k:02d}", rows, 0), f"cell{k:02d}")
    times["first write of every sample"] = time.perf_counter() - start
    start = time.perf_counter()
    fmt.write(cycling_rows("cell00", rows, 0), "cell00")
    times["overwrite one sample"] = time.perf_counter() - start
    step = rows // appends
    start = time.perf_counter()
    for n in range(1, appends + 1):  # the tail part n is replaced by final rows, a new tail n+1 is written
        final = cycling_rows("cell01", step, n, start=rows + (n - 1) * step)
        tail = cycling_rows("cell01", 100, n + 1, start=rows + n * step)
        fmt.write(pa.concat_tables([final, tail]), "cell01", min_part=n)
    times[f"{appends} appends"] = time.perf_counter() - start
    start = time.perf_counter()
    fmt.compact("cell01")
    times["compact one sample"] = time.perf_counter() - start
    start = time.perf_counter()
    data = fmt.dataset()  # noqa: F841 (DuckDB finds it by name)
    count = duckdb.sql("SELECT sample_id, count(*), avg(voltage_volt) FROM data GROUP BY 1").fetchall()
    times["query (group by sample)"] = time.perf_counter() - start
    expected = samples * rows + appends * step + 100
    assert sum(c for _, c, _ in count) == expected, (count, expected)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--appends", type=int, default=10)
    args = parser.parse_args()
    results = {}
    with s3_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        bucket = new_bucket(endpoint)
        options = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                   "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}
        for where in ("local", "s3"):
            for name in ("delta", "iceberg"):
                folder = Path(tmp, f"{name}-{where}")
                folder.mkdir()
                uri = str(folder / "table") if where == "local" else f"s3://{bucket}/{name}"
                opts = options if where == "s3" else {}
                fmt = Delta(uri, opts) if name == "delta" else Iceberg(uri if where == "s3" else f"file://{folder}", opts, folder)
                results[(name, where)] = run(fmt, args.samples, args.rows, args.appends)
    columns = list(results)
    print(f"{args.samples} samples x {args.rows} rows, {args.appends} appends; wall seconds, one run")
    print("| step | " + " | ".join(f"{n} {w}" for n, w in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for step in results[columns[0]]:
        print(f"| {step} | " + " | ".join(f"{results[c][step]:.2f}" for c in columns) + " |")


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    main()
