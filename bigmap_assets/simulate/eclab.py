"""Write EC-Lab ASCII exports (``.mpt``) the way EC-Lab for Windows 11.x does.

Header layout copied from real GCPL exports (``Nb header lines``, the settings block with one
column per ``Ns``, ``Acquisition started on : MM/DD/YYYY HH:MM:SS.fff``), Latin-1 text, CRLF
line ends, tab-separated data with EC-Lab's number formats (``%.15E`` for doubles, ``%.7E``
for singles, three-digit exponents), and optionally the decimal comma of a German/Nordic locale.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np

MODE_CODES = {"CC": 1, "CV": 2, "REST": 3}
COLUMNS = (
    ("mode", "%d"), ("ox/red", "%d"), ("error", "%d"), ("control changes", "%d"), ("Ns changes", "%d"),
    ("counter inc.", "%d"), ("Ns", "%d"), ("time/s", "%.15E"), ("Ewe/V", "%.7E"),
    ("I/mA", "%.7E"), ("dq/mA.h", "%.15E"), ("Q charge/discharge/mA.h", "%.15E"), ("half cycle", "%d"),
    ("cycle number", "%.15E"),
)
_KEEP_DOTS = ("Acquisition started on", "EC-Lab", "Internet", "Command", "Device", "Run on", "\t")  # dates, versions
_EXPONENT = re.compile(r"E([+-])(\d\d)(?=\t|\r|$)", re.MULTILINE)


def write_mpt(path, *, start_local: dt.datetime, time_second, voltage_volt, current_ampere, step_id, control_mode,
              decimal_comma: bool = False, device: str = "VMP3", charge_increment_mah=None,
              active_mass_mg: float | None = None) -> None:
    """Write one GCPL ``.mpt`` file.

    ``time_second`` since acquisition start (s), ``voltage_volt`` (V), ``current_ampere`` (A,
    positive = charge/oxidation), ``step_id`` (EC-Lab ``Ns``), ``control_mode`` (CC, CV or REST
    per point), ``start_local``: the instrument PC's clock at acquisition start (naive).
    ``charge_increment_mah``: charge passed since the previous point (EC-Lab ``dq``, mA·h);
    by default I·Δt of each point. The settings block lists one column per ``Ns`` with the
    current, voltage limit and CV cut-off seen in the data.
    """
    time_s = np.asarray(time_second, dtype=np.float64)
    voltage = np.asarray(voltage_volt, dtype=np.float64)
    current_ma = np.asarray(current_ampere, dtype=np.float64) * 1e3
    step = np.asarray(step_id, dtype=np.int64)
    mode = np.array([MODE_CODES[m] for m in control_mode], dtype=np.int64)
    dq_mah = (np.asarray(charge_increment_mah, dtype=np.float64) if charge_increment_mah is not None
              else current_ma * np.diff(time_s, prepend=time_s[:1]) / 3600.0)
    table = data_columns(time_s, voltage, current_ma, step, mode, dq_mah)
    header = header_lines(start_local, step, mode, current_ma, voltage, device, active_mass_mg)
    text = "\r\n".join(header) + "\r\n" + _format_rows(table)
    if decimal_comma:
        text = _with_decimal_comma(text)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(text.encode("latin-1"))


def data_columns(time_s, voltage, current_ma, step, mode, dq_mah) -> np.ndarray:
    """The data block as one float array, columns in ``COLUMNS`` order."""
    n = len(time_s)
    changed = np.r_[True, np.diff(mode) != 0]
    ns_changed = np.r_[True, np.diff(step) != 0]
    direction = np.where(current_ma > 0, 1, np.where(current_ma < 0, 0, -1))
    ox_red = _carry_forward(direction, first=1)
    half_cycle = np.r_[0, np.cumsum(np.diff(ox_red) != 0)]
    charge_mah = np.cumsum(dq_mah)
    half_cycle_start = np.flatnonzero(np.r_[True, np.diff(half_cycle) != 0])
    charge_before_mah = (charge_mah - dq_mah)[half_cycle_start][half_cycle]  # charge passed up to each half cycle
    return np.column_stack([
        mode, ox_red, np.zeros(n), changed & (np.arange(n) > 0), ns_changed & (np.arange(n) > 0), np.zeros(n), step,
        time_s, voltage, current_ma, dq_mah, charge_mah - charge_before_mah, half_cycle, half_cycle // 2,
    ]).astype(np.float64)


def _carry_forward(values: np.ndarray, first: int) -> np.ndarray:
    """Replace -1 entries by the last non-negative value (``first`` before any)."""
    known = values >= 0
    index = np.maximum.accumulate(np.where(known, np.arange(len(values)), -1))
    return np.where(index >= 0, values[np.maximum(index, 0)], first)


def _format_rows(table: np.ndarray) -> str:
    row_format = "\t".join(fmt for _, fmt in COLUMNS) + "\t"
    text = "\r\n".join(row_format % tuple(row) for row in table) + "\r\n"
    return _EXPONENT.sub(lambda m: f"E{m.group(1)}0{m.group(2)}", text)


def _with_decimal_comma(text: str) -> str:
    """Decimal comma in the numbers of the settings and data blocks (EC-Lab in a comma locale)."""
    lines = text.split("\r\n")
    for i, line in enumerate(lines):
        if i >= 3 and not line.startswith(_KEEP_DOTS):
            lines[i] = re.sub(r"(?<=\d)\.(?=\d)", ",", line)
    return "\r\n".join(lines)


def header_lines(start_local: dt.datetime, step, mode, current_ma, voltage, device: str,
                 active_mass_mg: float | None) -> list[str]:
    """Every header line, the column-name line last; line 2 counts them all."""
    mass = f"{active_mass_mg:.3f} mg" if active_mass_mg else "0.001 mg"
    lines = [
        "EC-Lab ASCII FILE",
        "Nb header lines : {count}",
        "",
        "Galvanostatic Cycling with Potential Limitation",
        "",
        "Run on channel : 1 (SN 1234)",
        "User : ",
        "CE vs. WE compliance from -10 V to 10 V",
        "Electrode connection : standard",
        "Potential control : Ewe",
        "Ewe ctrl range : min = 0.00 V, max = 5.00 V",
        "Safety Limits :",
        "\tDo not start on E overload",
        f"Acquisition started on : {start_local:%m/%d/%Y %H:%M:%S}.{start_local.microsecond // 1000:03d}",
        "Loaded Setting File : NONE",
        "Saved on :",
        "\tFile : cell.mpr",
        "\tDirectory : C:\\Data\\BIG-MAP\\",
        "\tHost : 192.168.0.10",
        f"Device : {device} (SN 0198)",
        "Address : USB",
        "EC-Lab for windows v11.43 (software)",
        "Internet server v11.40 (firmware)",
        "Command interpretor v11.40 (firmware)",
        "Electrode material : LiNiO2",
        "Initial state : discharged",
        "Electrolyte : 1 M LiPF6 in EC:EMC",
        "Comments : BIG-MAP D5.3 ageing protocol",
        f"Mass of active material : {mass}",
        " at x = 0.000",
        "Molecular weight of active material (at x = 0) : 97.630 g/mol",
        "Atomic weight of intercalated ion : 6.940 g/mol",
        "Acquisition started at : xo = 0.000",
        "Number of e- transfered per intercalated ion : 1",
        "for DX = 1, DQ = 0.000 mA.h",
        "Battery capacity : 0.000 A.h",
        "Electrode surface area : 1.130 cm²",
        "Characteristic mass : 1.000 g",
        "Volume (V) : 1.000 cm³",
        "Cycle Definition : Charge/Discharge alternance",
        *_settings_block(step, mode, current_ma, voltage),
        "",
        "\t".join(name for name, _ in COLUMNS) + "\t",
    ]
    lines[1] = f"Nb header lines : {len(lines)}".ljust(46)
    return lines


def _settings_block(step, mode, current_ma, voltage) -> list[str]:
    """One settings column per Ns: CC current (unit chosen like EC-Lab), voltage limit, CV cut-off."""
    columns = []
    for ns in np.unique(step):
        rows = step == ns
        cc = np.abs(current_ma[rows & (mode == 1)])
        cv = np.abs(current_ma[rows & (mode == 2)])
        is_ma = np.median(cc) >= 1.0 if cc.size else True
        value = (np.median(cc) if is_ma else np.median(cc) * 1e3) if cc.size else 0.0
        charging = current_ma[rows].sum() >= 0
        columns.append({
            "Ns": str(int(ns)),
            "Set I/C": "I",
            "Is": f"{value if charging else -value:.3f}",
            "unit Is": "mA" if is_ma else "µA",
            "vs.": "<None>",
            "N": "1.00",
            "I sign": "> 0",
            "t1 (h:m:s)": "0:00:0.0000" if not cc.size else "1000:00:0.0000",
            "EM (V)": f"{(voltage[rows].max() if charging else voltage[rows].min()) if cc.size else 0.0:.3f}",
            "tM (h:m:s)": "100:00:0.0000" if cv.size else "0:00:0.0000",
            "Im": f"{cv.min() if cv.size else 0.0:.3f}",
            "unit Im": "mA",
            "tR (h:m:s)": "6:00:0.0000" if not cc.size else "0:00:0.0000",
            "goto Ns'": "0",
            "nc cycles": "0",
        })
    keys = list(columns[0])
    return [key.ljust(20) + "".join(col[key].ljust(20) for col in columns) for key in keys]
