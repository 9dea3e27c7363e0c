"""A large EC-Lab ``.mpr`` made from a real one: its data records repeated, for benchmarks and tests.

Every module is kept byte for byte except ``VMP data``: its records are written ``repeat``
times, ``time/s`` shifted on each repeat by the file's duration plus its last interval so that
time keeps increasing; the point count (first 4 bytes of the module) and the module length
in its header are patched. Every other column repeats unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..readers import eclab_mpr as mpr


def time_shift_second(time_s: np.ndarray) -> float:
    """How far each repeat of ``time_s`` is moved past the previous one (s)."""
    last_interval = float(time_s[-1] - time_s[-2]) if len(time_s) > 1 else 1.0
    return float(time_s[-1] - time_s[0]) + (last_interval if last_interval > 0 else 1.0)


def scaled_mpr(source: Path, repeat: int) -> bytes:
    """The bytes of ``source`` with its data records repeated ``repeat`` times (see the module docstring)."""
    data = Path(source).read_bytes()
    out, offset = [data[: mpr._FILE_HEADER_BYTES]], mpr._FILE_HEADER_BYTES
    while offset < len(data):
        style = "new" if data[offset + 41 : offset + 45] == b"\xff\xff\xff\xff" else "old"
        header = mpr._NEW_HEADER if style == "new" else mpr._OLD_HEADER
        fields = header.unpack_from(data, offset + 6)
        length, version = (fields[3], fields[5]) if style == "new" else (fields[2], fields[3])
        start = offset + 6 + header.size
        head, payload = bytearray(data[offset:start]), data[start : start + length]
        if fields[0].rstrip(b" \x00") == b"VMP data":
            payload = _repeated_points(source, payload, style, version, repeat)
            length_at = 6 + 35 + (4 if style == "new" else 0)
            head[length_at : length_at + 4] = len(payload).to_bytes(4, "little")
        out += [bytes(head), payload]
        offset = start + length
    return b"".join(out)


def _repeated_points(source: Path, payload: bytes, style: str, version: int, repeat: int) -> bytes:
    records_offset = mpr._RECORDS_OFFSET[(style, version)]
    n_points = int.from_bytes(payload[0:4], "little")
    id_dtype = ">u2" if style == "new" else "<u2"
    ids = np.frombuffer(payload, id_dtype, count=payload[4], offset=5).tolist()
    fields, unknown, _ = mpr._column_layout(tuple(ids), ())
    if unknown:
        raise ValueError(f"{source}: unknown column IDs {list(unknown)}, record layout unknown")
    names = [name for name, _ in fields]
    records = np.frombuffer(payload, mpr._record_dtype(fields), count=n_points, offset=records_offset)
    repeated = np.tile(records, repeat)
    time_field = f"f{names.index('time/s')}"
    shifts = np.repeat(np.arange(repeat) * time_shift_second(records[time_field]), n_points)
    repeated[time_field] += shifts
    return (n_points * repeat).to_bytes(4, "little") + payload[4:records_offset] + repeated.tobytes()
