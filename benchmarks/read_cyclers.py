"""Rows per second and peak memory of our cycler readers, side by side with peer readers.

    python benchmarks/read_cyclers.py [--repeat 3] [--rounds 3] [--target-rows 500000] [--only CSV]

Files: the small real files of ../shared/realdata are scaled up into a temporary folder, so
that the figures measure parsing rather than start-up: text exports by repeating their data
rows, a BTS 7 ``.nda`` by repeating its 86-byte records with the record index renumbered
(readers drop repeated indices). Other binary files are used as they are.

Timing: each measurement runs in a fresh process (so peak RSS belongs to that reader alone):
the process imports the reader, notes its RSS, reads the file ``--repeat`` times (more for a
small file, for at least ``MIN_SECONDS``) and reports the best time and the peak RSS above
that baseline. Every reader of a file is measured ``--rounds`` times, the readers taking
turns, and keeps its best time (and its largest peak): on a shared machine the speed drifts
by ±30 % over minutes, and taking turns lets each reader meet the same quiet spells.

Readers: ours runs twice, keeping every column of the file (``bigmap read``; 25 in the MITS
Pro CSV), and reading only the columns behind ``READER_COLUMNS`` (``read(path,
canonical_only=True)``, what the pipeline does), which is like for like with PyProBE's 8
mapped columns; peers are compared with the latter. NewareNDA/fastnda skip capacity
rebuilding and mode mapping; fastnda is the decoder our Neware reader builds on. Peers run in
their own virtual environment, given by ``BIGMAP_PEER_PYTHON`` (default
/tmp/bigmap-peers-venv/bin/python; make it with ``python -m venv /tmp/bigmap-peers-venv &&
/tmp/bigmap-peers-venv/bin/pip install cellpy pyprobe-data NewareNDA``), because their pins
(pandas < 3, polars 1.x) clash with ours. A peer that is not installed or fails on a file is
shown as such.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("BIGMAP_REALDATA", REPO.parent / "shared" / "realdata")) / "cycling"
MIN_SECONDS = 1.0  # each worker reads for at least this long
PEER_PYTHON = os.environ.get("BIGMAP_PEER_PYTHON", "/tmp/bigmap-peers-venv/bin/python")

# (label, real file, data-start line or None for binary, our format, peers)
CASES = (
    ("Neware .ndax (aux T)", "neware/20260302_IFE_BTS85_2_9_8_1.ndax", None, ("fastnda", "NewareNDA")),
    ("Neware .nda", "neware/navani_test.nda", None, ("fastnda", "NewareNDA")),
    ("Arbin .res", "arbin/navani_arbin_example.res", None, ("cellpy_arbin_res",)),
    ("Arbin .xlsx", "arbin/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx", None, ("pyprobe_arbin", "cellpy_arbin_xlsx")),
    ("Arbin CSV (MITS Pro)", "arbin/pyprobe_sample_data_arbin.csv", 1, ("pyprobe_arbin",)),
    ("Maccor CSV", "maccor/pyprobe_sample_data_maccor.csv", 3, ("pyprobe_maccor",)),
    ("Maccor text (KIT, dec. comma)", "maccor/cellpy_maccor_two.txt", 15, ("cellpy_maccor_two",)),
    ("BaSyTec text", "basytec/pyprobe_sample_data_basytec.txt", 13, ("pyprobe_basytec",)),
    ("Novonix CSV", "novonix/pyprobe_sample_data_novonix.csv", 21, ("pyprobe_novonix",)),
)


def _read_with(tool: str, path: str) -> int:
    """Read ``path`` with ``tool``; return the number of rows."""
    if tool in ("bigmap", "bigmap_canonical"):
        from bigmap_assets.readers import read

        return read(path, canonical_only=tool == "bigmap_canonical").num_rows
    if tool == "fastnda":
        import fastnda

        return fastnda.read(path).height
    if tool == "NewareNDA":
        import NewareNDA

        return len(NewareNDA.read(path))
    if tool.startswith("cellpy_"):
        from cellpy.readers.instruments import arbin_res, arbin_sql_xlsx, maccor_txt

        loader = {"cellpy_arbin_res": arbin_res.DataLoader, "cellpy_arbin_xlsx": arbin_sql_xlsx.DataLoader,
                  "cellpy_maccor_two": lambda: maccor_txt.DataLoader(model="two")}[tool]()
        return len(loader.loader_executor(path).raw)
    if tool.startswith("pyprobe_"):
        from pyprobe.cyclers import arbin, basytec, maccor, novonix

        cycler = {"arbin": arbin.Arbin, "maccor": maccor.Maccor, "basytec": basytec.Basytec,
                  "novonix": novonix.Novonix}[tool.split("_", 1)[1]]
        with tempfile.TemporaryDirectory() as folder:
            parsed = cycler(input_data_path=path, output_data_path=f"{folder}/out.parquet", overwrite_existing=True)
            return parsed.get_pyprobe_dataframe().height
    raise ValueError(f"unknown tool {tool}")


def _import(tool: str) -> None:
    """Import what ``tool`` needs, so that the memory baseline includes its libraries."""
    modules = {
        "bigmap": ("bigmap_assets.readers", "pandas", "python_calamine", "fastnda"),
        "bigmap_canonical": ("bigmap_assets.readers", "pandas", "python_calamine", "fastnda"),
        "fastnda": ("fastnda",),
        "NewareNDA": ("NewareNDA",),
        "cellpy_arbin_res": ("cellpy.readers.instruments.arbin_res",),
        "cellpy_maccor_two": ("cellpy.readers.instruments.maccor_txt",),
        "cellpy_arbin_xlsx": ("cellpy.readers.instruments.arbin_sql_xlsx",),
    }.get(tool, ("pyprobe.cyclers.arbin", "pyprobe.cyclers.maccor", "pyprobe.cyclers.basytec", "pyprobe.cyclers.novonix"))
    for module in modules:
        __import__(module)


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(tool: str, path: str, repeat: int) -> None:
    """Child process: import the reader, then time ``repeat`` reads (more for a small file, until
    ``MIN_SECONDS`` have passed, so that its best time is not one lucky or unlucky sample); print
    one JSON line."""
    _import(tool)
    baseline = _rss_mib()
    best, rows, count, began = float("inf"), 0, 0, time.perf_counter()
    while count < repeat or time.perf_counter() - began < MIN_SECONDS:
        start = time.perf_counter()
        rows = _read_with(tool, path)
        best = min(best, time.perf_counter() - start)
        count += 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": best, "peak_mib": max(peak - baseline, 0.0)}))


def measure(python: str, tool: str, path: Path, repeat: int) -> dict:
    command = [python, __file__, "--worker", tool, str(path), "--repeat", str(repeat)]
    if not Path(python).exists():
        return {"error": "peer venv missing"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": last[:60]}
    return json.loads(lines[-1])


def scaled_copy(source: Path, data_line: int | None, target_rows: int, folder: Path) -> Path:
    """``source`` with its data rows repeated to about ``target_rows`` rows (binary files other
    than ``.nda`` unchanged)."""
    if source.suffix == ".nda":
        return scaled_nda(source, target_rows, folder)
    if data_line is None:
        return source
    lines = source.read_bytes().splitlines(keepends=True)
    header, body = lines[:data_line], [line for line in lines[data_line:] if line.strip()]
    if not body[-1].endswith(b"\n"):
        body[-1] += b"\n"
    if source.name == "cellpy_maccor_two.txt":  # drop the truncated last row before repeating
        body = body[:-1]
    copies = max(1, target_rows // len(body))
    scaled = folder / f"scaled_{source.name}"
    scaled.write_bytes(b"".join(header) + b"".join(body) * copies)
    return scaled


NDA_MARKER = b"\x55\x00\x01\x00\x00\x00"  # first bytes of a BTS 7 (.nda version 29) data record
NDA_RECORD = np.dtype([("identifier", "u1"), ("_pad", "u1"), ("index", "<u4"), ("rest", "V80")])  # 86 bytes


def scaled_nda(source: Path, target_rows: int, folder: Path) -> Path:
    """A ``.nda`` (version 29) with its records repeated and renumbered (readers drop records whose
    index repeats), or ``source`` itself when its records are not laid out that way."""
    data = source.read_bytes()
    start = data.find(NDA_MARKER)
    if start < 0 or (len(data) - start) % NDA_RECORD.itemsize:
        return source
    records = np.frombuffer(data, NDA_RECORD, offset=start)
    copies = max(1, target_rows // len(records))
    repeated = np.tile(records, copies)
    repeated["index"] += np.repeat(np.arange(copies, dtype=np.uint32) * records["index"].max(), len(records))
    scaled = folder / f"scaled_{source.name}"
    scaled.write_bytes(data[:start] + repeated.tobytes())
    return scaled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--target-rows", type=int, default=500_000)
    parser.add_argument("--only", default="", help="run only the formats whose label contains this (e.g. CSV)")
    parser.add_argument("--worker", nargs=2, metavar=("TOOL", "PATH"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, args.repeat)
        return
    print(f"peers from {PEER_PYTHON}; best of {args.repeat} reads x {args.rounds} rounds; "
          "peak = max RSS above the post-import baseline")
    print(f"{'format':31} {'reader':18} {'rows':>9} {'s':>8} {'rows/s':>11} {'peak MiB':>9}  vs ours")
    with tempfile.TemporaryDirectory() as folder:
        for label, name, data_line, peers in CASES:
            if args.only.lower() not in label.lower():
                continue
            path = scaled_copy(REALDATA / name, data_line, args.target_rows, Path(folder))
            tools = {"bigmap": sys.executable, "bigmap_canonical": sys.executable,
                     **{peer: sys.executable if peer == "fastnda" else PEER_PYTHON for peer in peers}}
            best = measure_in_turns(tools, path, args.repeat, args.rounds)
            _print(label, "ours, all columns", best["bigmap"], None)
            _print("", "ours, canonical", best["bigmap_canonical"], None)
            for peer in peers:
                _print("", peer, best[peer], best["bigmap_canonical"])


def measure_in_turns(tools: dict[str, str], path: Path, repeat: int, rounds: int) -> dict[str, dict]:
    """Per tool (name -> Python), the fastest of ``rounds`` measurements taken in turns, with the
    largest peak seen; a tool that never ran gives its first error."""
    runs = {tool: [] for tool in tools}
    for _ in range(rounds):
        for tool, python in tools.items():
            runs[tool].append(measure(python, tool, path, repeat))
    best = {}
    for tool, results in runs.items():
        good = [run for run in results if "error" not in run]
        best[tool] = ({**min(good, key=lambda run: run["seconds"]), "peak_mib": max(run["peak_mib"] for run in good)}
                      if good else results[0])
    return best


def _print(label: str, reader: str, figures: dict, ours: dict | None) -> None:
    if "error" in figures:
        print(f"{label:31} {reader:18} {'failed: ' + figures['error']}")
        return
    rate = figures["rows"] / figures["seconds"]
    ratio = ""
    if ours and "error" not in ours:
        speedup = figures["seconds"] / ours["seconds"]
        ratio = (f"ours (canonical) {speedup:.2f}x faster" if speedup >= 1
                 else f"ours (canonical) {1 / speedup:.2f}x slower")
    print(f"{label:31} {reader:18} {figures['rows']:>9} {figures['seconds']:>8.3f} {rate:>11,.0f} "
          f"{figures['peak_mib']:>9.1f}  {ratio}")


if __name__ == "__main__":
    main()
