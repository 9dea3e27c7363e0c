"""The pipeline's cost on the local lake against the lake in a bucket (Delta tables on S3).

    python benchmarks/lake_storage.py [--cells 12] [--where local,s3]

Generates the example registry and cycling files (``--cells`` of the 12 cells), runs one
warm-up materialisation of one cell (imports, definitions), then for each location copies the
data folder and times ``materialize_all`` (every cycling partition and the summary job) and
the README's queries through ``catalog.connect``. ``s3`` starts moto's S3 server on localhost
(``moto[server]``, the test extra) and sets ``BIGMAP_LAKE`` and the ``AWS_*`` variables. Only
``local`` uses nothing added for object storage, so it runs on older checkouts too (to compare
the local lake's speed across commits). Wall seconds of one run on a possibly shared machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from bigmap_assets.defs.materialize import materialize_all
from bigmap_assets.simulate import cycling as cycling_generator
from bigmap_assets.simulate import registry as registry_generator
from bigmap_assets.warehouse import catalog

QUERIES = [
    "SELECT series, provider, checkup_index, mean_soh, std_soh FROM cycling_series ORDER BY 1, 2, 3",
    "SELECT sample_id, eol_cycle_count FROM cycling_soh WHERE end_of_life ORDER BY eol_cycle_count",
    "SELECT stage, count(*) FROM cycling_cycles GROUP BY stage",
    "SELECT technique, path, reason FROM ingest_issues",
    "SELECT sample_id, count(*), avg(voltage_volt) FROM cycling_timeseries GROUP BY 1",
]


def data_folder(source: Path, target: Path, cells: list[str]) -> Path:
    shutil.copytree(source / "registry", target / "registry")
    for cell in cells:
        shutil.copytree(source / "raw" / "cycling" / cell, target / "raw" / "cycling" / cell)
    return target


def timed_run(data_dir: Path) -> tuple[float, float, int]:
    """(materialise seconds, query seconds, timeseries rows)."""
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        if not materialize_all(data_dir, instance=instance).succeeded:
            sys.exit(f"materialize failed in {data_dir}")
    written = time.perf_counter() - started
    started = time.perf_counter()
    con = catalog.connect(data_dir / "warehouse")
    for query in QUERIES:
        con.sql(query).fetchall()
    rows = con.execute("SELECT count(*) FROM cycling_timeseries").fetchone()[0]
    return written, time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=12)
    parser.add_argument("--where", default="local,s3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "example")
        registry_generator.generate(source)
        cycling_generator.generate(source, seed=0)
        cells = sorted(p.name for p in (source / "raw" / "cycling").iterdir())[:args.cells]
        timed_run(data_folder(source, Path(tmp, "warm-up"), cells[:1]))
        for where in args.where.split(","):
            if where == "s3":
                sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
                from bigmap_assets_tests.s3server import CREDENTIALS, new_bucket, s3_server
                with s3_server() as endpoint:
                    os.environ.update(CREDENTIALS, AWS_ENDPOINT_URL=endpoint,
                                      BIGMAP_LAKE=f"s3://{new_bucket(endpoint)}/lake")
                    written, queried, rows = timed_run(data_folder(source, Path(tmp, where), cells))
                    os.environ.pop("BIGMAP_LAKE")
            else:
                written, queried, rows = timed_run(data_folder(source, Path(tmp, where), cells))
            print(f"{where:<6} {len(cells)} cells, {rows} timeseries rows: materialize {written:.1f} s, "
                  f"README queries {queried:.2f} s", flush=True)


if __name__ == "__main__":
    main()
