"""Plain column text from XAS beamlines (e.g. ESRF BM08), and the helpers every XAS reader shares.

Layout: ``#`` comment lines, the last of which names the columns, then whitespace-separated
numbers; the first column is the energy. The mu column is chosen by name: a given mu,
else fluorescence channels of the edge element over I0, else ln(I0/I1). A reference
channel (``mu_ref``, or ln(I1/I2) in transmission) is kept for energy calibration.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from ..ingest.errors import UnreadableFile
from ..schemas.xas import READER_COLUMNS
from ..science.xas import TINY_ENERGY_EV

NAME = "xas_columns"
TECHNIQUE = "xas"

_ENERGY_NAMES = re.compile(r"^(e|energy|ebraggenergy|energy_ev|energy\(ev\)|mono_energy|energ\w*)$", re.IGNORECASE)
_MU_NAMES = ("mu", "xmu", "mutrans", "mu_trans", "mufluor", "mu_fluo", "mufluo", "absorbance")
_NORM_NAMES = ("norm", "normalized", "normalised", "norm_mu", "xmu_norm")
_REFERENCE_NAMES = ("mu_ref", "mutrans_ref", "muref", "reference", "ref")
_I0_NAMES = ("i0", "i0_eh1", "io", "izero")
_I1_NAMES = ("i1", "it", "itrans", "i1_eh1")
_I2_NAMES = ("i2", "iref", "ir_eh2", "ir")
_XAS_HINT = re.compile(rb"\b(i0|mu|mutrans|itrans|i1|ifluo\w*)\b", re.IGNORECASE)


def to_utc(local_text: str, timezone: str | None, formats: tuple[str, ...]) -> str | None:
    """An ISO UTC time from a local clock reading in ``timezone`` (None: the text had no usable time)."""
    for fmt in formats:
        try:
            local = datetime.strptime(local_text.strip(), fmt)
        except ValueError:
            continue
        if local.tzinfo is None:
            local = local.replace(tzinfo=ZoneInfo(timezone or "UTC"))
        return local.astimezone(ZoneInfo("UTC")).isoformat()
    return None


def _pick(names: list[str], wanted: tuple[str, ...]) -> str | None:
    lowered = {n.lower(): n for n in names}
    return next((lowered[w] for w in wanted if w in lowered), None)


def choose_channels(columns: dict[str, np.ndarray], element: str | None = None) -> tuple[dict[str, np.ndarray], str, list[str]]:
    """mu, i0 and reference_mu from named channels: (arrays, mu_source, warnings).

    Order of preference for mu: a given mu column; fluorescence channels of ``element``
    (``<El>_K*``, dead-time corrected by ``DTFactor_*`` when present) summed over I0;
    ln(I0/I1). A normalised column (``norm``...) is kept as ``norm_mu``; alone, it is the
    spectrum. Raises ``ValueError`` when none applies.
    """
    names = list(columns)
    warnings: list[str] = []
    out: dict[str, np.ndarray] = {}
    i0_name = _pick(names, _I0_NAMES)
    i1_name = _pick(names, _I1_NAMES)
    i2_name = _pick(names, _I2_NAMES)
    if i0_name:
        out["i0"] = columns[i0_name]
    norm_name = _pick(names, _NORM_NAMES)
    if norm_name:
        out["norm_mu"] = columns[norm_name]
    mu_name = _pick(names, _MU_NAMES)
    fluo = [n for n in names if element and n.lower().startswith(f"{element.lower()}_k")]
    if mu_name:
        out["mu"], source = columns[mu_name], f"file column {mu_name}"
    elif fluo and i0_name:
        total = np.zeros_like(columns[i0_name])
        for name in fluo:
            factor = columns.get(f"DTFactor_{name.rsplit('_', 1)[-1]}")
            total = total + columns[name] * (factor if factor is not None else 1.0)
        out["mu"] = total / columns[i0_name]
        source = f"fluorescence ({'+'.join(fluo)})/{i0_name}"
        if not any(f"DTFactor_{n.rsplit('_', 1)[-1]}" in columns for n in fluo):
            warnings.append("fluorescence channels summed without dead-time correction (no DTFactor columns)")
    elif i0_name and i1_name:
        with np.errstate(divide="ignore", invalid="ignore"):
            out["mu"] = np.log(columns[i0_name] / columns[i1_name])
        source = f"transmission ln({i0_name}/{i1_name})"
    elif norm_name:
        source = f"normalised in file ({norm_name})"
    else:
        raise ValueError(f"no mu column and no I0 with I1 or fluorescence channels among {', '.join(names)}")
    reference_name = _pick(names, _REFERENCE_NAMES)
    if reference_name:
        out["reference_mu"] = columns[reference_name]
    elif i1_name and i2_name and not source.startswith("fluorescence"):
        with np.errstate(divide="ignore", invalid="ignore"):
            out["reference_mu"] = np.log(columns[i1_name] / columns[i2_name])
    return out, source, warnings


def reader_table(scans: list[dict[str, np.ndarray]], channels: dict[str, np.ndarray] | None = None) -> pa.Table:
    """One long table (``READER_COLUMNS``) from per-scan dicts of arrays (missing channels become nulls).

    ``channels`` (single-scan files) are the file's own columns, appended as ``channel_<name>``
    after the reader columns, so no measured channel is lost.
    """
    arrays = {c.name: [] for c in READER_COLUMNS}
    for index, scan in enumerate(scans):
        n = len(scan["energy_ev"])
        arrays["scan_index"].append(pa.array(np.full(n, index, dtype=np.int32)))
        arrays["scan_name"].append(pa.array([scan["scan_name"]] * n, pa.string()))
        for column in READER_COLUMNS[2:]:
            values = scan.get(column.name)
            arrays[column.name].append(pa.nulls(n, pa.float64()) if values is None else
                                       pa.array(np.asarray(values, dtype=float), pa.float64(), from_pandas=True))
    fields = [pa.field(c.name, c.type, nullable=c.nullable) for c in READER_COLUMNS]
    table = pa.Table.from_arrays([pa.concat_arrays(arrays[f.name]) if arrays[f.name] else pa.array([], f.type)
                                  for f in fields], schema=pa.schema(fields))
    for name, values in (channels or {}).items():
        table = table.append_column(f"channel_{re.sub(r'[^0-9A-Za-z_]+', '_', name)}",
                                    pa.array(np.asarray(values, dtype=float), pa.float64(), from_pandas=True))
    return table


def numeric_block(path: Path, lines: list[str], first: int, width: int) -> np.ndarray:
    """The whitespace-separated numbers from line ``first`` on, as (rows, width) floats."""
    rows = [line.split() for line in lines[first:] if line.strip() and not line.lstrip().startswith("#")]
    bad = next((i for i, r in enumerate(rows) if len(r) != width), None)
    if bad is not None:
        raise UnreadableFile(path, f"data row has {len(rows[bad])} values where the column line names {width}",
                             location=f"data row {bad + 1}")
    try:
        data = np.array(rows, dtype=float)
    except ValueError as exc:
        raise UnreadableFile(path, f"non-numeric value in the data: {exc}") from exc
    if data.shape[0] < 8:
        raise UnreadableFile(path, f"only {data.shape[0]} data rows: too few for a spectrum")
    return data


def energy_order(path: Path, energy_ev: np.ndarray, warnings: list[str], scan: str = "") -> np.ndarray:
    """Row order sorting the energy; refuses a scan whose energy is not finite, warns when energies repeat.

    Repeated energies (closer than larch's 0.5 meV) are kept as rows; the normalisation merges them.
    """
    if not np.all(np.isfinite(energy_ev)):
        raise UnreadableFile(path, "energy column holds non-numbers")
    order = np.argsort(energy_ev, kind="stable")
    steps = np.diff(energy_ev[order])
    repeats = np.flatnonzero(steps < TINY_ENERGY_EV)
    if repeats.size:
        where = f"{scan}: " if scan else ""
        warnings.append(f"{where}{repeats.size} energy points repeat the one before (first at "
                        f"{energy_ev[order][repeats[0] + 1]:.3f} eV): kept, and averaged with it for normalisation")
    return order


def _column_line(lines: list[str]) -> int | None:
    """Index of the comment line right before the first numeric line."""
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            return i - 1 if i > 0 and lines[i - 1].startswith("#") else None
    return None


def sniff(path: Path, head: bytes) -> bool:
    """Comment lines, then a column line starting with an energy name and naming I0/mu, then numbers."""
    if not head.startswith(b"#") or b"\0" in head:
        return False
    lines = head.decode("latin-1").splitlines()[:-1]
    at = _column_line(lines)
    if at is None:
        return False
    names = lines[at].lstrip("#").split()
    return bool(names) and bool(_ENERGY_NAMES.match(names[0])) and bool(_XAS_HINT.search(lines[at].encode()))


def read(path: Path) -> tuple[pa.Table, dict]:
    path = Path(path)
    lines = path.read_text(encoding="latin-1").splitlines()
    at = _column_line(lines)
    if at is None:
        raise UnreadableFile(path, "no '#' column line right before the data")
    names = lines[at].lstrip("#").split()
    data = numeric_block(path, lines, at + 1, len(names))
    repeats: list[str] = []
    order = energy_order(path, data[:, 0], repeats)
    columns = {name: data[order, i] for i, name in enumerate(names)}
    try:
        channels, source, warnings = choose_channels(columns)
    except ValueError as exc:
        raise UnreadableFile(path, str(exc), location=f"line {at + 1}") from exc
    warnings += repeats
    scan = {"scan_name": path.stem, "energy_ev": data[order, 0], **channels}
    warnings.append("no acquisition time in the file: the scan cannot be aligned in time")
    metadata = {
        "columns": names,
        "scans": [{"scan_index": 0, "scan_name": path.stem, "start_utc_time": None, "duration_second": None,
                   "timezone": None, "element": None, "edge": None, "mu_source": source}],
        "warnings": warnings,
    }
    return reader_table([scan], channels={name: columns[name] for name in names[1:]}), metadata
