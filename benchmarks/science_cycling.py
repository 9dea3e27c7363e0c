"""Per-cycle figures and speed of our cycling science next to navani's, and next to the simulator's truth.

    python benchmarks/science_cycling.py [--realdata DIR] [--peer-python PYTHON]

Files: the real ``gcpl.issue_211.mpt`` (yadg test file) and two generated BIG-MAP cells (one
with decimal commas). Ours: ``bigmap_assets.read`` -> ``build_timeseries`` -> ``summarise_cycles``.
navani (``echem_file_loader`` + ``cycle_summary``) pins numpy < 2, so it runs in its own Python
given by ``--peer-python`` or $BIGMAP_PEER_PYTHON; navani's "CE" is charge/discharge, ours
discharge/charge, so both are printed as Q_dis/Q_ch here. Speed: our stitching and summary on
about one million rows (a generated cell tiled).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from bigmap_assets import readers
from bigmap_assets.science.cycling import build_timeseries, summarise_cycles
from bigmap_assets.simulate import cycling as sim

REPO = Path(__file__).resolve().parents[1]
SHOWN_CYCLES = 6
NAVANI_SCRIPT = """
import json, sys, time
import numpy as np
from navani.echem import echem_file_loader, cycle_summary
start = time.perf_counter()
try:
    summary = cycle_summary(echem_file_loader(sys.argv[1]))
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    raise SystemExit
rows = [{"cycle": int(c), "q_ch_mah": r.get("Charge Capacity"), "q_dis_mah": r.get("Discharge Capacity"),
         "v_dis": r.get("Average Discharge Voltage")} for c, r in summary.iterrows()]
print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows},
                 default=lambda v: None if v != v else float(v)))
"""


def ours(path: Path, timezone: str, active_mass_g: float | None) -> tuple[list[dict], float]:
    start = time.perf_counter()
    timeseries = build_timeseries([readers.read(path)], sample_id="bench", timezone=timezone)
    cycles = summarise_cycles(timeseries, active_mass_g=active_mass_g)
    seconds = time.perf_counter() - start
    rows = [{"cycle": c["cycle_count"], "q_ch_mah": c["charge_capacity_ah"] * 1e3,
             "q_dis_mah": c["discharge_capacity_ah"] * 1e3, "v_dis": c["mean_discharge_voltage_volt"],
             "stage": c["stage"]} for c in cycles.to_pylist()]
    return rows, seconds


def navani(path: Path, peer_python: str | None) -> tuple[list[dict] | None, str]:
    if not peer_python:
        return None, "navani: no --peer-python given"
    result = subprocess.run([peer_python, "-c", NAVANI_SCRIPT, str(path)], capture_output=True, text=True, timeout=600)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return None, f"navani failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else '?'}"
    answer = json.loads(lines[-1])
    if "error" in answer:
        return None, f"navani failed: {answer['error']}"
    return answer["rows"], f"navani {answer['seconds']:.2f} s"


def _cell(value: float | None, fmt: str) -> str:
    return format(value, fmt) if value is not None else "-"


def compare(title: str, path: Path, timezone: str, active_mass_g: float | None, peer_python: str | None,
            truth: dict | None = None) -> None:
    our_rows, our_seconds = ours(path, timezone, active_mass_g)
    peer_rows, peer_note = navani(path, peer_python)
    print(f"\n== {title}: {path.name}  (ours {our_seconds:.2f} s; {peer_note})")
    print(f"{'cycle':>5} {'stage':>9} | {'Q_ch mAh':>9} {'Q_dis mAh':>9} {'CE':>7} {'V_dis':>6} | "
          f"{'navani Q_ch':>11} {'Q_dis':>9} {'CE':>7} {'V_dis':>6}" + (" | truth Q_dis  V_dis" if truth else ""))
    peer = {r["cycle"]: r for r in peer_rows or []}
    checkups = {c["cycle_count"]: c for c in (truth or {}).get("checkups", [])}
    shown = [r for r in our_rows if r["cycle"] <= SHOWN_CYCLES or r["cycle"] in checkups][: SHOWN_CYCLES + 4]
    for row in shown:
        other = peer.get(row["cycle"], {})
        ce = row["q_dis_mah"] / row["q_ch_mah"] if row["q_ch_mah"] else None
        other_ce = (other["q_dis_mah"] / other["q_ch_mah"]) if other.get("q_ch_mah") and other.get("q_dis_mah") else None
        line = (f"{row['cycle']:>5} {row['stage']:>9} | {row['q_ch_mah']:>9.4f} {row['q_dis_mah']:>9.4f} "
                f"{_cell(ce, '7.4f'):>7} {_cell(row['v_dis'], '6.3f'):>6} | {_cell(other.get('q_ch_mah'), '11.4f'):>11} "
                f"{_cell(other.get('q_dis_mah'), '9.4f'):>9} {_cell(other_ce, '7.4f'):>7} "
                f"{_cell(other.get('v_dis'), '6.3f'):>6}")
        if truth:
            checkup = checkups.get(row["cycle"], {})
            line += (f" | {_cell(checkup.get('discharge_capacity_ah', 0) * 1e3 if checkup else None, '9.4f')}"
                     f" {_cell(checkup.get('mean_discharge_voltage_volt'), '6.3f')}")
        print(line)


def speed(path: Path, timezone: str, active_mass_g: float) -> None:
    table = readers.read(path)
    copies = 1_000_000 // table.num_rows + 1
    span_s = table.column("test_time_second")[-1].as_py() + 1.0
    tiled = pa.concat_tables([table] * copies)
    times = np.concatenate([table.column("test_time_second").to_numpy() + i * span_s for i in range(copies)])
    tiled = readers.attach_metadata(tiled.set_column(0, "test_time_second", pa.array(times)), readers.metadata_of(table))
    start = time.perf_counter()
    timeseries = build_timeseries([tiled], sample_id="bench", timezone=timezone)
    built = time.perf_counter()
    cycles = summarise_cycles(timeseries, active_mass_g=active_mass_g)
    done = time.perf_counter()
    print(f"\n== speed: {tiled.num_rows} rows, {cycles.num_rows} cycles: build_timeseries {built - start:.2f} s "
          f"({tiled.num_rows / (built - start) / 1e6:.1f} M rows/s), summarise_cycles {done - built:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", type=Path, default=REPO.parent / "shared" / "realdata")
    parser.add_argument("--peer-python", default=os.environ.get("BIGMAP_PEER_PYTHON"))
    args = parser.parse_args()
    real = args.realdata / "cycling" / "eclab" / "yadg" / "gcpl.issue_211.mpt"
    if real.is_file():
        compare("real GCPL, no mass given", real, "UTC", None, args.peer_python)
    with tempfile.TemporaryDirectory() as folder:
        truths = sim.generate(Path(folder), seed=0)
        for sample_id in ("LNO-REF-A-02", "LNO-REF-B-01"):
            truth = truths[sample_id]
            path = Path(folder) / truth["files"][0]["path"]
            compare(f"generated {sample_id}", path, truth["timezone"], truth["active_mass_mg"] / 1000,
                    args.peer_python, truth)
        first = truths["LNO-REF-A-02"]
        speed(Path(folder) / first["files"][0]["path"], first["timezone"], first["active_mass_mg"] / 1000)


if __name__ == "__main__":
    main()
