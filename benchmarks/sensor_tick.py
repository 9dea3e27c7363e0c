"""How long one ``raw_file_sensor`` tick takes over many samples, with one sample set per technique.

    python benchmarks/sensor_tick.py [--cells 1000] [--xas-every 10] [--d2b-every 20]

Makes ``--cells`` cycling cells (one small EC-Lab file each, as ``throughput.py`` does), gives
every ``--xas-every``-th cell an XAS scan and every ``--d2b-every``-th a D2B numor (copied from
the example data in ``data/``), then times sensor ticks, called directly (no daemon), against a
persistent SQLite instance:

* first look: every file hashed, every sample added to its technique's set;
* nothing changed;
* one changed file (one run requested);
* one removed XAS folder (its partition dropped, its rows, none here, retracted);
* an instance upgraded from the single ``sample_id`` set: the tick that moves every sample.

The load average before and after is printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

import dagster as dg  # noqa: E402

from bigmap_assets.definitions import build_defs  # noqa: E402
from bigmap_assets.defs.partitions import LEGACY_SET, SAMPLE_SETS  # noqa: E402
from bigmap_assets.defs.resources import WarehouseResource  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from throughput import small_cells  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "raw"
XAS_FILE = EXAMPLE / "xas" / "LNO-OPXAS-01" / "norm_opxas01_pos1_dq1_0001_av240_00001.txt"
D2B_FILE = EXAMPLE / "d2b" / "LNO-OPD2B-01" / "612001.nxs"


def add_technique_files(root: Path, ids: list[str], xas_every: int, d2b_every: int) -> dict[str, int]:
    past = time.time() - 600
    counts = {"xas": 0, "d2b": 0}
    for i, sample_id in enumerate(ids):
        for technique, every, source in (("xas", xas_every, XAS_FILE), ("d2b", d2b_every, D2B_FILE)):
            if every and i % every == 0:
                target = root / "raw" / technique / sample_id / source.name
                target.parent.mkdir(parents=True)
                shutil.copy(source, target)
                os.utime(target, (past, past))
                counts[technique] += 1
    return counts


def timed_tick(sensor, instance, warehouse, cursor):
    started = time.perf_counter()
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": warehouse}))
    return result, time.perf_counter() - started


def apply(instance: dg.DagsterInstance, result) -> None:
    for request in result.dynamic_partitions_requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--xas-every", type=int, default=10)
    parser.add_argument("--d2b-every", type=int, default=20)
    args = parser.parse_args(argv)
    if not XAS_FILE.exists() or not D2B_FILE.exists():
        print(f"example data missing ({XAS_FILE.parent}): run ./dev demo or python -m bigmap_assets.simulate",
              file=sys.stderr)
        return 2
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        made = time.perf_counter()
        ids = small_cells(root, args.cells, rows=50)
        counts = add_technique_files(root, ids, args.xas_every, args.d2b_every)
        print(f"{args.cells} cycling cells, {counts['xas']} with XAS, {counts['d2b']} with D2B "
              f"(made in {time.perf_counter() - made:.1f} s)")
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        sensor = build_defs(str(root)).resolve_sensor_def("raw_file_sensor")
        warehouse = WarehouseResource(data_dir=str(root), settle_seconds=0)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            first, seconds = timed_tick(sensor, instance, warehouse, None)
            apply(instance, first)
            sets = {t: len(instance.get_dynamic_partitions(d.name)) for t, d in SAMPLE_SETS.items()}
            print(f"first look          {seconds:7.2f} s  {len(first.run_requests)} runs requested, sets {sets}")
            second, seconds = timed_tick(sensor, instance, warehouse, first.cursor)
            print(f"nothing changed     {seconds:7.2f} s  {len(second.run_requests)} runs requested")
            changed = root / "raw" / "cycling" / ids[1] / f"{ids[1]}_C01.mpt"
            changed.write_text(changed.read_text(encoding="latin-1") + "\n", encoding="latin-1")
            os.utime(changed, (time.time() - 60, time.time() - 60))
            third, seconds = timed_tick(sensor, instance, warehouse, second.cursor)
            print(f"one changed file    {seconds:7.2f} s  {[str(r.partition_key) for r in third.run_requests]}")
            shutil.rmtree(root / "raw" / "xas" / ids[0])
            fourth, seconds = timed_tick(sensor, instance, warehouse, third.cursor)
            apply(instance, fourth)
            dropped = [(r.partitions_def_name, list(r.partition_keys)) for r in fourth.dynamic_partitions_requests]
            print(f"one removed folder  {seconds:7.2f} s  dropped {dropped}")

            for name in SAMPLE_SETS.values():  # back to an instance of before the split
                for key in instance.get_dynamic_partitions(name.name):
                    instance.delete_dynamic_partition(name.name, key)
            instance.add_dynamic_partitions(LEGACY_SET, ids)
            _, seconds = timed_tick(sensor, instance, warehouse, fourth.cursor)
            sets = {t: len(instance.get_dynamic_partitions(d.name)) for t, d in SAMPLE_SETS.items()}
            print(f"upgrade tick        {seconds:7.2f} s  sets {sets}, {LEGACY_SET}: "
                  f"{len(instance.get_dynamic_partitions(LEGACY_SET))}")
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
