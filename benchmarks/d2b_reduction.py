"""D2B reduction time and peak memory, beside Mantid's figure from the D5.3 report.

    python benchmarks/d2b_reduction.py [--series 50] [--threads 2]

Generates one measurement of 10 full numors (25 steps x 128 tubes x 128 pixels, the real NeXus
layout, gzip) into a temporary folder, then times (best of 3) reading and reducing it to the 1D
diffractogram (PowderILLDetectorScan defaults), the 2DTubes output, and a series of ``--series``
measurements (the same 10 files read again for each, grouped, reduced and compared consecutively).
Peak memory is the process's peak RSS above its level before the first reduction. On a shared
machine the wall times grow with the load; the series' CPU time per measurement does not.
Mantid: the report's "up to 2 minutes" per measurement; Mantid itself installs from conda only
and cannot be run here, so no Mantid timing of ours is shown.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

MANTID_REPORTED_SECOND = 120.0


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best(function, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=50, help="measurements in the series (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads (default 2 = the target machine)")
    args = parser.parse_args(argv)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)

    import numpy as np
    import pyarrow as pa

    from bigmap_assets.readers import read
    from bigmap_assets.science.diffraction import compare_consecutive, reduce_measurement, reduce_sample
    from bigmap_assets.simulate import d2b as sim

    with tempfile.TemporaryDirectory() as folder:
        sim.generate(Path(folder), steps_per_numor=25, measurements=1)
        paths = sorted((Path(folder) / "raw" / "d2b" / sim.SAMPLE_ID).glob("*.nxs"))
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        baseline = _peak_rss_mib()
        read_s = _best(lambda: [read(p) for p in paths])
        tables = [read(p) for p in paths]
        reduce_1d_s = _best(lambda: reduce_measurement(tables))
        reduce_2d_s = _best(lambda: reduce_measurement(tables, output="2DTubes"))
        one_s = _best(lambda: reduce_measurement([read(p) for p in paths]))
        one_peak = _peak_rss_mib() - baseline

        def series():
            diffractograms = []
            for index in range(args.series):
                numors, reduced = reduce_sample([read(p) for p in paths], sim.SAMPLE_ID)
                diffractograms.append(reduced.set_column(1, "measurement_index",
                                                         pa.array(np.full(reduced.num_rows, index))))
            return compare_consecutive(pa.concat_tables(diffractograms))

        start, start_cpu = time.perf_counter(), time.process_time()
        comparisons = series()
        series_s, series_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
        series_peak = _peak_rss_mib() - baseline

    entries = 10 * 25 * 128 * 128
    print(f"D2B reduction, 10 numors x 25 x 128 x 128 ({entries / 1e6:.1f} M pixel entries, {size_mb:.1f} MB gzip NeXus), "
          f"{args.threads} threads, Python {sys.version.split()[0]}")
    print(f"{'step':46s} {'bigmap-assets':>14s} {'Mantid (report)':>16s}")
    print(f"{'read 10 numors':46s} {read_s:13.3f}s {'':>16s}")
    print(f"{'reduce to 1D (cone-corrected 2theta)':46s} {reduce_1d_s:13.3f}s {'':>16s}")
    print(f"{'reduce to 2DTubes (128 heights)':46s} {reduce_2d_s:13.3f}s {'':>16s}")
    print(f"{'one measurement, read + 1D':46s} {one_s:13.3f}s {MANTID_REPORTED_SECOND:15.0f}s")
    print(f"{'  speed-up over the report':46s} {MANTID_REPORTED_SECOND / one_s:13.0f}x {'':>16s}")
    print(f"{'  peak memory above baseline':46s} {one_peak:11.0f}MiB {'':>16s}")
    print(f"{f'series of {args.series} measurements (+ {comparisons.num_rows} comparisons)':46s} "
          f"{series_s:13.2f}s {args.series * MANTID_REPORTED_SECOND:15.0f}s")
    print(f"{'  per measurement':46s} {series_s / args.series:13.3f}s {MANTID_REPORTED_SECOND:15.0f}s")
    print(f"{'  per measurement, CPU time (load-independent)':46s} {series_cpu_s / args.series:13.3f}s {'':>16s}")
    print(f"{'  peak memory above baseline':46s} {series_peak:11.0f}MiB {'':>16s}")
    print("Mantid cannot be installed here (conda only, no PyPI wheel): its column is the D5.3 report's figure.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
