"""``.xye`` files (2theta, intensity, error; ``#`` comment header) that Rietveld programs load directly
(FullProf, GSAS-II, TOPAS, Jana). Every bin is written, as Mantid's SaveFocusedXYE writes every bin of
the workspace: an empty or masked bin as intensity 0 with error 0 (SumOverlappingTubes leaves both 0)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..warehouse.provenance import code_version

MONITOR_UNIT = "counts per 1e6 monitor counts"


def xye_text(diffractogram: pa.Table, header: dict | None = None,
             intensity_unit: str = MONITOR_UNIT) -> str:
    """The ``.xye`` text of one 1D diffractogram (``two_theta_degree``, ``intensity``, ``intensity_error``);
    ``header`` items become ``# key: value`` lines."""
    diffractogram = diffractogram.sort_by("two_theta_degree")
    columns = [diffractogram.column(n).to_numpy(zero_copy_only=False).astype(float)
               for n in ("two_theta_degree", "intensity", "intensity_error")]
    lines = [f"# bigmap-assets {code_version()}: D2B diffractogram, intensity in {intensity_unit}"]
    lines += [f"# {key}: {value}" for key, value in (header or {}).items() if value is not None]
    lines.append("# 2theta_degree intensity error")
    lines += [f"{x:.4f} {y:.6g} {e:.6g}" for x, y, e in zip(*columns)]
    return "\n".join(lines) + "\n"


def write_xye(path: Path, diffractogram: pa.Table, header: dict | None = None,
              intensity_unit: str = MONITOR_UNIT) -> Path:
    """Write ``xye_text`` to ``path`` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(xye_text(diffractogram, header, intensity_unit))
    tmp.replace(path)
    return path


def read_xye(path: Path) -> pa.Table:
    """A ``.xye`` file (2 or 3 numeric columns, ``#`` comments) as ``two_theta_degree``, ``intensity``,
    ``intensity_error`` (sqrt of the intensity when the file has no error column)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # numpy's "input contained no data"
            values = np.loadtxt(path, comments="#", ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: not a numeric .xye file ({exc})") from None
    if values.size == 0:
        raise ValueError(f"{path}: no data rows")
    if values.shape[1] < 2:
        raise ValueError(f"{path}: expected 2theta, intensity[, error] columns, found {values.shape[1]}")
    error = values[:, 2] if values.shape[1] > 2 else np.sqrt(np.abs(values[:, 1]))
    return pa.table({"two_theta_degree": values[:, 0], "intensity": values[:, 1], "intensity_error": error})


def export_diffractograms(diffractograms: pa.Table, folder: Path) -> list[Path]:
    """One ``<sample>_<measurement_id>.xye`` per 1D diffractogram of ``d2b_diffractograms`` rows; a height-range
    output gets ``_h<min>_<max>`` (metres) before the suffix."""
    one_d = diffractograms.filter(pc.equal(diffractograms.column("output_type"), "1D"))
    keys = ("sample_id", "measurement_index", "height_range_min_metre", "height_range_max_metre")
    combos = set(zip(*(one_d.column(k).to_pylist() for k in keys)))
    paths = []
    for combo in sorted(combos, key=lambda c: tuple((v is not None, v) for v in c)):
        rows = one_d.filter(np.all([_matches(one_d.column(k), v) for k, v in zip(keys, combo)], axis=0))
        first = rows.slice(0, 1).to_pylist()[0]
        window = "" if combo[2] is None else f"_h{combo[2]:g}_{combo[3]:g}"
        header = {"sample_id": first["sample_id"], "measurement_id": first["measurement_id"],
                  "mantid_workflow": first["mantid_workflow"],
                  "height_range_metre": None if combo[2] is None else f"{combo[2]:g} {combo[3]:g}",
                  "start_utc_time": first["start_utc_time"], "end_utc_time": first["end_utc_time"]}
        path = Path(folder) / f"{first['sample_id']}_{first['measurement_id']}{window}.xye"
        paths.append(write_xye(path, rows, header))
    return paths


def _matches(column: pa.ChunkedArray, value) -> np.ndarray:
    if value is None:
        return pc.is_null(column).to_numpy(zero_copy_only=False)
    return pc.fill_null(pc.equal(column, value), False).to_numpy(zero_copy_only=False)
