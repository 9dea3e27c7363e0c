"""Read every real EC-Lab file with our readers and with peers, side by side.

    python benchmarks/read_eclab.py [--realdata DIR] [--peer-python PYTHON] [--quick] [--rounds N] [--large-only]

Each (tool, file) runs in a fresh subprocess, with the glibc allocator settings of
``bigmap_assets.ingest.allocator`` whatever the tool (but yadg, in its own environment): a read of another (the smallest) file loads
what the tool imports lazily, then one read of the file gives the peak-RSS increase
(ru_maxrss after minus before, MiB) and repeated reads the best time (rows/s);
``--quick`` repeats for 0.1 s instead of 0.5 s.
Ours runs twice: ``ours`` keeps every column of the file (``bigmap read``), ``canonical``
reads only ``READER_COLUMNS`` (``read(path, canonical_only=True)``, what ingestion does).
Peers: galvani (MPRfile to a pandas DataFrame, MPTfile), pandas.read_csv with the right options, and yadg when
``--peer-python`` (or $BIGMAP_PEER_PYTHON) names a Python that has it (yadg 7 pins pandas 2,
so it lives in its own environment: ``python -m venv /tmp/eclab-peers &&
/tmp/eclab-peers/bin/pip install yadg``).

Large ``.mpr``: real files with their data records repeated to 1.5-1.8 M rows
(``simulate.eclab_mpr.scaled_mpr``: time shifted to keep increasing, point count and module
length patched), written to a temporary folder and deleted afterwards. Ours and galvani take
turns, ``--rounds`` times (one with ``--quick``), and keep their best time: the ratio
galvani / ours must be at least ``LARGE_MPR_TARGET``.
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

from targets import record

REPO = Path(__file__).resolve().parents[1]
REPEAT_SECONDS = 0.5
QUICK_REPEAT_SECONDS = 0.1
OUR_TOOLS = ("ours", "canonical")  # every column (bigmap read), READER_COLUMNS only (what ingestion reads)
MPR_TOOLS = ("ours", "canonical", "galvani", "yadg")
MPT_TOOLS = ("ours", "canonical", "pandas", "galvani", "yadg")
PEER_ENV_TOOLS = {"yadg"}
LARGE_MPR_TOOLS = ("ours", "canonical", "galvani")
# real file under cycling/eclab -> times its data records are repeated (1.5-1.8 M rows)
LARGE_MPR_FILES = {
    "navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr": 40,  # old header, v3, current derived from dq
    "yadg/gcpl.issue_211.mpr": 600,  # new header, v11, current derived from dq
    "navani/00_test_04_MB_C01.mpr": 1000,  # new header, v11, I/mA
    "yadg/cv.mpr": 300,  # data module v2, capacities from (Q-Qo)/C
}
LARGE_MPR_TARGET = 1.5  # galvani-to-DataFrame time / our time


def _mpt_options(path: Path) -> dict:
    """What pandas needs to be told: header lines to skip and the decimal separator."""
    with open(path, "rb") as fh:
        first, second = fh.readline(), fh.readline()
        if first.strip().lower() in (b"ec-lab ascii file", b"bt-lab ascii file"):
            header_lines = int(second.split(b":")[1])
            for _ in range(header_lines - 3):
                fh.readline()
            fh.readline()  # column line
            sample = fh.readline()
        else:
            header_lines, sample = 0, second
    return {"skiprows": max(header_lines - 1, 0), "decimal": "," if b"," in sample else "."}


def _reader(tool: str, kind: str):
    """A function path -> row count for the tool."""
    if tool in ("ours", "canonical"):
        from bigmap_assets import read

        return lambda path: read(path, canonical_only=tool == "canonical").num_rows
    if tool == "galvani":
        from galvani.BioLogic import MPRfile, MPTfile

        if kind == "mpr":
            import pandas as pd

            return lambda path: len(pd.DataFrame(MPRfile(str(path)).data))
        return lambda path: len(MPTfile(str(path))[0])
    if tool == "pandas":
        import pandas as pd

        def read_with_pandas(path):
            options = _mpt_options(path)
            frame = pd.read_csv(path, sep="\t", encoding="latin-1", index_col=False, **options)
            return len(frame)

        return read_with_pandas
    if tool == "yadg":
        if kind == "mpr":
            from yadg.extractors.eclab.mpr import extract_from_path

            return lambda path: extract_from_path(Path(path), timezone="UTC").to_dataset().sizes["uts"]
        from yadg.extractors.eclab.mpt import extract_from_path

        def read_with_yadg(path):
            locale = "de_DE" if _mpt_options(path)["decimal"] == "," else "en_US"
            tree = extract_from_path(Path(path), encoding="windows-1252", locale=locale, timezone="UTC")
            return tree.to_dataset().sizes["uts"]

        return read_with_yadg
    raise ValueError(tool)


def _worker(tool: str, kind: str, path: Path, warm_up: Path, repeat_seconds: float) -> dict:
    try:  # every tool under the allocator settings ours runs with (not in yadg's own environment)
        from bigmap_assets.ingest.allocator import keep_freed_memory

        keep_freed_memory()
    except ImportError:
        pass
    read = _reader(tool, kind)
    try:  # load what the tool imports lazily, on another file, so that only reading is measured
        read(warm_up)
    except Exception:
        pass
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu_start = time.perf_counter(), time.process_time()
    rows = read(path)
    best, best_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    spent, repeats = best, 1
    while (spent < repeat_seconds or repeats < 5) and repeats < 50:
        start, cpu_start = time.perf_counter(), time.process_time()
        read(path)
        elapsed = time.perf_counter() - start
        best_cpu = min(best_cpu, time.process_time() - cpu_start)
        best, spent, repeats = min(best, elapsed), spent + elapsed, repeats + 1
    return {"rows": int(rows), "seconds": best, "cpu_seconds": best_cpu, "rss_mib": (rss_after - rss_before) / 1024}


def _run(tool: str, kind: str, path: Path, warm_up: Path, peer_python: str | None, repeat_seconds: float) -> dict:
    python = peer_python if tool in PEER_ENV_TOOLS else sys.executable
    if python is None:
        return {"error": "not installed"}
    command = [python, __file__, "--worker", tool, kind, str(path), str(warm_up), str(repeat_seconds)]
    proc = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last[:70]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cell(result: dict) -> str:
    if "error" in result:
        return "FAIL"
    return f"{result['rows'] / result['seconds'] / 1e3:9.0f} {result['rss_mib']:6.1f}"


def _table(kind: str, files: list[Path], tools: tuple[str, ...], root: Path, peer_python: str | None,
           repeat_seconds: float) -> None:
    print(f"\n.{kind}: k rows/s (best of repeats) and peak RSS increase (MiB) per tool")
    print(f"{'file':58s} {'rows':>6s} " + " ".join(f"{t + ' kr/s':>9s} {'MiB':>6s}" for t in tools))
    failures: dict[str, list[str]] = {t: [] for t in tools}
    slower: dict[str, list[str]] = {t: [] for t in OUR_TOOLS}
    for path in files:
        warm_up = min((f for f in files if f != path), key=lambda f: f.stat().st_size)
        results = {tool: _run(tool, kind, path, warm_up, peer_python, repeat_seconds) for tool in tools}
        rows = results["ours"].get("rows", "-")
        print(f"{str(path.relative_to(root)):58s} {rows:>6} " + " ".join(_cell(results[t]) for t in tools))
        for tool, result in results.items():
            if "error" in result:
                failures[tool].append(f"{path.name}: {result['error']}")
        for ours_tool in OUR_TOOLS:
            ours = results[ours_tool].get("seconds")
            beaten_by = [t for t, r in results.items()
                         if t not in OUR_TOOLS and "seconds" in r and ours and r["seconds"] < ours]
            if beaten_by:
                slower[ours_tool].append(f"{path.name} (faster: {', '.join(beaten_by)})")
    for tool, failed in failures.items():
        print(f"  {tool} fails on {len(failed)} file(s)" + "".join(f"\n    {f}" for f in failed))
    for ours_tool, lost in slower.items():
        print(f"  {ours_tool} faster than every peer on {len(files) - len(lost)}/{len(files)} files"
              + "".join(f"\n    slower on {s}" for s in lost))


def _large_mpr_table(root: Path, warm_up: Path, rounds: int, repeat_seconds: float) -> None:
    from bigmap_assets.simulate.eclab_mpr import scaled_mpr

    print(f"\nlarge .mpr (data records repeated): best wall and CPU ms over {rounds} round(s), tools taking "
          f"turns; galvani / ours >= {LARGE_MPR_TARGET} wanted")
    print(f"{'file':56s} {'rows':>8s} " + " ".join(f"{t + ' ms':>13s} {'cpu':>5s}" for t in LARGE_MPR_TOOLS)
          + f" {'galvani/ours':>12s} {'cpu':>5s} {'galvani/canonical':>17s} {'cpu':>5s}")
    missed = []
    with tempfile.TemporaryDirectory(prefix="bigmap-large-mpr-") as folder:
        for name, repeat in LARGE_MPR_FILES.items():
            path = Path(folder) / f"{Path(name).stem}_x{repeat}.mpr"
            path.write_bytes(scaled_mpr(root / name, repeat))
            best: dict[str, dict] = {}
            for _ in range(rounds):
                for tool in LARGE_MPR_TOOLS:
                    result = _run(tool, "mpr", path, warm_up, None, repeat_seconds)
                    if "error" in result or "error" in best.get(tool, {}):
                        best[tool] = result
                    elif tool in best:
                        best[tool] = {**result, **{k: min(result[k], best[tool][k]) for k in ("seconds", "cpu_seconds")}}
                    else:
                        best[tool] = result
            path.unlink()
            if any("error" in r for r in best.values()):
                print(f"{path.name:56s} FAIL " + "; ".join(f"{t}: {r['error']}" for t, r in best.items() if "error" in r))
                missed.append(path.name)
                continue
            ratios = [best["galvani"][key] / best[t][key] for t in ("ours", "canonical") for key in ("seconds", "cpu_seconds")]
            print(f"{path.name:56s} {best['ours']['rows']:>8d} "
                  + " ".join(f"{best[t]['seconds'] * 1e3:13.0f} {best[t]['cpu_seconds'] * 1e3:5.0f}" for t in LARGE_MPR_TOOLS)
                  + f" {ratios[0]:11.2f}x {ratios[1]:4.2f}x {ratios[2]:16.2f}x {ratios[3]:4.2f}x")
            if not record(f"large .mpr {path.name}: galvani / ours", ratios[0], LARGE_MPR_TARGET, "x",
                          at_least=True, note=f"{best['ours']['rows']:,} rows, wall time, best of {rounds}"):
                missed.append(path.name)
    print(f"  ours (wall) >= {LARGE_MPR_TARGET}x galvani on {len(LARGE_MPR_FILES) - len(missed)}/{len(LARGE_MPR_FILES)} "
          "large files" + "".join(f"\n    not on {m}" for m in missed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realdata", type=Path, default=REPO.parent / "shared" / "realdata")
    parser.add_argument("--peer-python", default=os.environ.get("BIGMAP_PEER_PYTHON"))
    parser.add_argument("--quick", action="store_true", help="repeat each read for 0.1 s instead of 0.5 s")
    parser.add_argument("--large-only", action="store_true", help="only the large .mpr table")
    parser.add_argument("--rounds", type=int, default=3, help="turns each tool takes on each large .mpr (default 3)")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tool, kind, path, warm_up, repeat_seconds = args.worker
        print(json.dumps(_worker(tool, kind, Path(path), Path(warm_up), float(repeat_seconds))))
        return
    root = args.realdata / "cycling" / "eclab"
    print(f"EC-Lab readers vs peers on {root} (yadg from: {args.peer_python or 'not installed'})")
    repeat_seconds = QUICK_REPEAT_SECONDS if args.quick else REPEAT_SECONDS
    if not args.large_only:
        _table("mpr", sorted(root.rglob("*.mpr")), MPR_TOOLS, root, args.peer_python, repeat_seconds)
        _table("mpt", sorted(root.rglob("*.mpt")), MPT_TOOLS, root, args.peer_python, repeat_seconds)
    warm_up = min(root.rglob("*.mpr"), key=lambda f: f.stat().st_size)
    _large_mpr_table(root, warm_up, 1 if args.quick else args.rounds, repeat_seconds)


if __name__ == "__main__":
    main()
