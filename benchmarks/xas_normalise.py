"""XAS normalisation and scan alignment speed, ours side by side with larch.

    python benchmarks/xas_normalise.py [--spectra 1000] [--scans 10000] [--rows 1000000]

1. Normalisation: ``--spectra`` Ni K-edge spectra made from the 58 real ROCK reference-foil
   spectra (../shared/realdata, cycled and given a little noise so each is different),
   normalised by ``bigmap_assets.science.xas.pre_edge`` (whole series at once, E0 found per
   spectrum) and by a loop over larch's ``pre_edge`` (when xraylarch is installed), three ways:
   larch's defaults (what ``bigmap xas normalise`` and the pipeline use), the same with one NaN
   in one spectrum (which then is fitted apart), and explicit ranges. Prints the times, the
   speed-up and the largest differences in E0 (eV), edge step (relative) and normalised mu.
2. Alignment: ``--scans`` scan times against a ``--rows``-row cycling time series with
   ``bigmap_assets.science.alignment.align_scans``, beside perex's default method re-created
   with pandas (``merge_asof`` to the nearest point within 10 min, no interpolation; perex
   itself is not on PyPI).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bigmap_assets.readers import read
from bigmap_assets.science.alignment import align_scans
from bigmap_assets.science.xas import pre_edge

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("BIGMAP_REALDATA", REPO.parent / "shared" / "realdata"))
EXPLICIT = dict(pre1=-150.0, pre2=-50.0, norm1=100.0, norm2=600.0, nnorm=2)


def foil_series(count: int) -> tuple[np.ndarray, np.ndarray]:
    files = sorted((REALDATA / "xas" / "rock_operando_perex" / "op2_cell4_pos1").glob("*.txt"))
    if not files:
        raise SystemExit(f"no ROCK files under {REALDATA}: set BIGMAP_REALDATA")
    tables = [read(f) for f in files]
    energy = tables[0].column("energy_ev").to_numpy()
    foils = np.vstack([t.column("reference_mu").to_numpy() for t in tables])
    rng = np.random.default_rng(0)
    mu = foils[np.arange(count) % len(foils)] + rng.normal(0.0, 2e-4, (count, energy.size))
    return energy, mu


def time_ours(energy: np.ndarray, mu: np.ndarray, parameters: dict):
    start = time.perf_counter()
    result = pre_edge(energy, mu, **{f"{k}_ev" if k != "nnorm" else k: v for k, v in parameters.items()})
    return time.perf_counter() - start, result


def time_larch(energy: np.ndarray, mu: np.ndarray, parameters: dict):
    try:
        from larch import Group
        from larch.xafs import pre_edge as larch_pre_edge
    except ImportError:
        return None, None
    groups = []
    start = time.perf_counter()
    for row in mu:
        group = Group()
        larch_pre_edge(energy, row, group=group, make_flat=True, **parameters)
        groups.append(group)
    return time.perf_counter() - start, groups


def normalisation(count: int) -> None:
    energy, mu = foil_series(count)
    with_nan = mu.copy()
    with_nan[count // 2, energy.size // 3] = np.nan
    time_ours(energy, mu[:2], {})  # imports scipy.signal: not part of the speed
    print(f"Normalising {count} Ni K-edge spectra of {energy.size} points (E0 found per spectrum):")
    print(f"  {'parameters':<24}{'tool':<22}{'time (s)':>10}{'spectra/s':>12}")
    for label, series, parameters in (("larch's defaults", mu, {}), ("defaults, one NaN", with_nan, {}),
                                      ("explicit ranges", mu, EXPLICIT)):
        ours_s, ours = time_ours(energy, series, parameters)
        print(f"  {label:<24}{'bigmap (vectorised)':<22}{ours_s:>10.3f}{count / ours_s:>12.0f}")
        larch_s, groups = time_larch(energy, series, parameters)
        if groups is None:
            print(f"  {'':<24}{'larch pre_edge loop':<22}  not installed (pip install xraylarch)")
            continue
        print(f"  {'':<24}{'larch pre_edge loop':<22}{larch_s:>10.3f}{count / larch_s:>12.0f}")
        finite = np.isfinite(series)
        e0 = np.abs(ours.e0_ev - [g.e0 for g in groups]).max()
        step = np.abs(ours.edge_step / [g.edge_step for g in groups] - 1).max()
        norm = max(np.abs(ours.norm_mu[k][finite[k]] - g.norm).max() for k, g in enumerate(groups))
        flat = max(np.abs(ours.flat_mu[k][finite[k]] - g.flat).max() for k, g in enumerate(groups))
        print(f"  {'':<24}speed-up {larch_s / ours_s:.1f}x; largest differences: E0 {e0:.3g} eV, edge step "
              f"{step:.2g} (relative), norm mu {norm:.2g}, flat mu {flat:.2g}")


def alignment(scans: int, rows: int) -> None:
    t0 = 1.66e9
    seconds = t0 + np.arange(rows) * 1.0
    utc = lambda s: pa.array((s * 1e6).astype("int64")).cast(pa.timestamp("us", tz="UTC"))  # noqa: E731
    series = pa.table({
        "utc_time": utc(seconds), "test_time_second": seconds - t0, "voltage_volt": 3.6 + 0.5 * np.sin(seconds / 7200.0),
        "current_ampere": np.full(rows, 1e-4), "net_capacity_ah": np.arange(rows) * 1e-4 / 3600.0,
        "charging_capacity_ah": np.arange(rows) * 1e-4 / 3600.0, "discharging_capacity_ah": np.zeros(rows),
        "cycle_count": np.arange(rows) // 100_000, "step_count": np.arange(rows) // 5_000,
        "step_type": pa.array(["CC_CHG"] * rows),
    })
    mid = t0 + np.random.default_rng(1).uniform(0, rows, scans)
    table = pa.table({"source_scan": [f"scan{i}" for i in range(scans)], "mid_utc_time": utc(mid)})
    start = time.perf_counter()
    out = align_scans(table, series, active_mass_g=0.008)
    elapsed = time.perf_counter() - start
    ec_frame, scan_frame = series.to_pandas(), table.to_pandas().sort_values("mid_utc_time")
    start = time.perf_counter()
    merged = pd.merge_asof(scan_frame, ec_frame, left_on="mid_utc_time", right_on="utc_time",
                           direction="nearest", tolerance=pd.Timedelta("10min"))
    pandas_s = time.perf_counter() - start
    print(f"Aligning {scans} scans with a {rows}-row cycling time series:")
    print(f"  {'bigmap align_scans (interpolated)':<40}{elapsed:>8.3f} s  ({out.num_rows} rows, "
          f"{sum(a == 'ok' for a in out.column('alignment').to_pylist())} ok)")
    print(f"  {'perex-style pandas merge_asof (nearest)':<40}{pandas_s:>8.3f} s  ({len(merged)} rows; "
          "frame conversion not counted)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=1000)
    parser.add_argument("--scans", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    normalisation(args.spectra)
    alignment(args.scans, args.rows)


if __name__ == "__main__":
    main()
