"""Helpers shared by the cycler readers (Neware, Arbin, Maccor, BaSyTec, Novonix).

Every cycler reader ends in ``reader_table``: the columns of ``schemas.cycling.READER_COLUMNS``
first (A, V, s, Ah; current positive = charge), then the file's other columns under
snake_case names that carry their unit. Capacities that the vendor resets per step or per
cycle are rebuilt here into cumulative counters that never reset. Text readers are split into
``layout(path, head) -> TextLayout`` and ``convert(path, table, layout, dropped)`` so that
``readers.streaming`` parses big files in batches with the same code.
"""

from __future__ import annotations

import codecs
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..ingest.errors import UnreadableFile
from ..schemas.cycling import READER_COLUMNS

# Control modes travel as int8 codes (index into CONTROL_MODES) until ``control_mode_array``.
CONTROL_MODES = ("CC", "CV", "REST", "OTHER")
CC, CV, REST, OTHER = range(4)
CCCV = 4  # a combined CC-CV step still to be split by ``split_cccv``

# Relative thresholds for telling control modes apart within one step.
REST_CURRENT_FRACTION = 1e-6  # |I| below this share of the file's max |I| counts as zero
CC_CURRENT_SPREAD = 0.1  # relative spread of |I| within a constant-current step (µA currents are noisy)
CC_SHARE = 0.8  # share of a CC step's rows within that spread of the median (ramps and spikes allowed)
CV_VOLTAGE_SPREAD_VOLT = 0.005  # voltage range within a constant-voltage step

_UNIT_WORDS = {
    "v": "volt", "mv": "millivolt", "a": "ampere", "ma": "milliampere", "ua": "microampere",
    "w": "watt", "mw": "milliwatt", "wh": "wh", "mwh": "mwh", "ah": "ah", "mah": "mah",
    "s": "second", "sec": "second", "h": "hour", "min": "minute", "ohm": "ohm", "ohms": "ohm",
    "c": "celsius", "°c": "celsius", "degc": "celsius", "k": "kelvin",
    "v/s": "volt_per_second", "v/h": "volt_per_hour", "a/h": "ampere_per_hour",
    "c/s": "celsius_per_second", "ah/v": "ah_per_volt", "v/ah": "volt_per_ah",
    "mah/g": "mah_per_g",
}


def decode_text(raw: bytes) -> str:
    """Text of a vendor export: UTF-8 (with or without BOM), else Latin-1 (never fails)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def unit_column_name(vendor_name: str) -> str:
    """A snake_case, unit-bearing name for a vendor column: ``"Power (W)"`` -> ``"power_watt"``.

    Units are recognised in ``(...)``, ``[...]`` or after a slash (``Ecell/V``); a column
    without a unit keeps its words only.
    """
    name = vendor_name.strip().lstrip("\ufeff~")
    match = re.match(r"^(.*?)\s*[\(\[]([^\)\]]*)[\)\]]\s*$", name)
    words, unit = (match.group(1), match.group(2)) if match else (name, "")
    if not unit and "/" in words and words.rsplit("/", 1)[1].strip().lower() in _UNIT_WORDS:
        words, unit = words.rsplit("/", 1)
    unit_word = _UNIT_WORDS.get(unit.strip().lower().replace("\ufffd", "°"), "")
    if unit and not unit_word:
        unit_word = re.sub(r"[^0-9a-z]+", "_", unit.lower()).strip("_")
    base = re.sub(r"[^0-9a-z]+", "_", words.lower()).strip("_") or "column"
    return f"{base}_{unit_word}" if unit_word else base


def block_index(*keys: np.ndarray) -> np.ndarray:
    """0-based index that increments whenever any of ``keys`` changes from one row to the next."""
    n = len(keys[0])
    change = np.zeros(n, dtype=bool)
    for key in keys:
        key = np.asarray(key)
        change[1:] |= key[1:] != key[:-1]
    return np.cumsum(change)


def block_starts(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row, row count) of each block of a ``block_index`` result."""
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]]) if blocks.size else np.zeros(0, dtype=np.int64)
    return starts, np.diff(np.r_[starts, blocks.size])


def zero_nan(values) -> np.ndarray:
    """``values`` as float64 with NaN read as 0 (no copy when there is no NaN)."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    return np.where(missing, 0.0, values) if missing.any() else values


def forward_filled(values) -> np.ndarray:
    """``values`` as float64 with each NaN or infinity replaced by the last finite number before it
    (0 at the start)."""
    values = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(values)
    if not missing.any():
        return values
    last = np.maximum.accumulate(np.where(missing, -1, np.arange(values.size)))
    return np.where(last >= 0, values[np.maximum(last, 0)], 0.0)


def increments_of_resetting(values: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """Per-row increments of a counter that the vendor resets to zero per step or cycle.

    Inside a group the increment is the difference to the previous row; at the start of a
    group, or where the counter falls (an unannounced reset), the counter restarted from
    zero, so the increment is the value itself. NaN or infinity counts as no change.
    """
    values = forward_filled(values)
    increments = np.empty_like(values)
    if values.size == 0:
        return increments
    increments[0] = values[0]
    np.subtract(values[1:], values[:-1], out=increments[1:])
    restart = increments < 0
    if group is not None:
        group = np.asarray(group)
        restart[1:] |= group[1:] != group[:-1]
    restart[0] = True
    np.copyto(increments, values, where=restart)
    return increments


def cumulative_by_direction(increments_ah: np.ndarray, current_ampere: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (charge, discharge) capacity in Ah from finite increments (sign ignored) and the current sign.

    A row with zero current takes the direction of the previous row with current (the first
    sample of a step often reads 0 A while the counter already moved).
    """
    current = zero_nan(current_ampere)
    moving = current != 0
    if not moving.all():
        current = current[np.maximum.accumulate(np.arange(current.size) * moving)]  # the last moving row's
    increments = np.abs(increments_ah)  # finite (from ``forward_filled`` values): x * False is 0, 7x faster than where
    return np.cumsum(increments * (current > 0)), np.cumsum(increments * (current < 0))


def control_mode_array(codes: np.ndarray) -> pa.Array:
    """The ``control_mode`` column (strings) from int8 mode codes."""
    indices = pa.array(np.asarray(codes, dtype=np.int8))
    return pa.DictionaryArray.from_arrays(indices, pa.array(CONTROL_MODES)).cast(pa.string())


def run_alongside(background, foreground) -> tuple:
    """``(background(), foreground())``, the first on a second thread. numpy releases the GIL in
    its loops, so two column-sized computations take about as long as the longer one."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # per call: a pool kept across calls would not survive fork
        later = pool.submit(background)
        now = foreground()
        return later.result(), now


def infer_control_mode(current_ampere: np.ndarray, voltage_volt: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Mode code (CC, CV, REST or OTHER) per row, decided per step from how current and voltage vary.

    For formats that record no control mode (Arbin, BaSyTec): a step whose |I| stays below
    ``REST_CURRENT_FRACTION`` of the file's largest |I| is REST; a step where ``CC_SHARE`` of the
    rows lie within ``CC_CURRENT_SPREAD`` (relative) of the median |I| is CC; a step whose voltage stays within
    ``CV_VOLTAGE_SPREAD_VOLT`` while the current changes is CV; anything else is OTHER.
    """
    current = np.abs(zero_nan(current_ampere))
    voltage = zero_nan(voltage_volt)
    if current.size == 0:
        return np.zeros(0, dtype=np.int8)
    blocks = block_index(np.asarray(step))
    starts, lengths = block_starts(blocks)
    moving = current > REST_CURRENT_FRACTION * max(current.max(), 1e-12)
    moving_count = np.add.reduceat(moving.astype(np.int64), starts)
    median = np.repeat(_block_median(current, blocks, moving, moving_count), lengths)
    near_median = moving & (np.abs(current - median) <= CC_CURRENT_SPREAD * median)
    cc_share = np.add.reduceat(near_median.astype(np.int64), starts) / np.maximum(moving_count, 1)
    block_mode = np.full(starts.size, OTHER, dtype=np.int8)
    block_mode[cc_share >= CC_SHARE] = CC
    block_mode[moving_count == 0] = REST
    undecided = np.flatnonzero(block_mode == OTHER)  # neither CC nor REST: CV if the voltage stays put
    if undecided.size:
        in_undecided = np.repeat(block_mode == OTHER, lengths) & moving
        block_mode[undecided[_range_per_block(voltage[in_undecided], moving_count[undecided])
                             <= CV_VOLTAGE_SPREAD_VOLT]] = CV
    return np.repeat(block_mode, lengths)


def _range_per_block(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """max - min of consecutive runs of ``values``, run k being ``counts[k]`` (> 0) long."""
    starts = np.cumsum(counts) - counts
    return np.maximum.reduceat(values, starts) - np.minimum.reduceat(values, starts)


def _block_median(values: np.ndarray, blocks: np.ndarray, mask: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median (upper middle) of ``values[mask]`` per block, given each block's ``counts`` of masked
    rows; 0 for a block with none."""
    kept_blocks, kept_values = blocks[mask], values[mask]
    sorted_values = kept_values[np.lexsort((kept_values, kept_blocks))]
    first = np.cumsum(counts) - counts
    median = np.zeros(counts.size)
    has = counts > 0
    median[has] = sorted_values[first[has] + counts[has] // 2]
    return median


def split_cccv(modes: np.ndarray, voltage_volt: np.ndarray, current_ampere: np.ndarray, step: np.ndarray,
               tolerance_volt: float = 0.002) -> np.ndarray:
    """Split combined CC-CV steps (code ``CCCV``) into their CC part and CV part.

    Within such a step the CV part starts at the first row whose voltage is within
    ``tolerance_volt`` of the step's limit (its highest voltage on charge, lowest on discharge).
    """
    modes = np.asarray(modes, dtype=np.int8).copy()
    voltage = np.nan_to_num(np.asarray(voltage_volt, dtype=np.float64))
    blocks = block_index(np.asarray(step))
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])
    charging = np.add.reduceat(np.nan_to_num(np.asarray(current_ampere, dtype=np.float64)), starts) >= 0
    limit = np.where(charging, np.maximum.reduceat(voltage, starts), np.minimum.reduceat(voltage, starts))
    reached = np.cumsum(np.abs(voltage - limit[blocks]) <= tolerance_volt)
    reached_before_block = np.r_[0, reached[starts[1:] - 1]]
    in_cv = reached > reached_before_block[blocks]  # the limit was reached at or before this row
    cccv = modes == CCCV
    modes[cccv] = np.where(in_cv[cccv], CV, CC)
    return modes


def seconds_from_duration_text(durations: pa.Array) -> pa.Array:
    """Seconds from Maccor-style ``"3d 04:05:06.7"`` or ``"04:05:06.7"`` durations (float64)."""
    parts = pc.extract_regex(
        pc.utf8_trim_whitespace(durations),
        r"^(?:(?P<day>\d+)d\s*)?(?P<hour>\d+):(?P<minute>\d+):(?P<second>[0-9.]+)$",
    )
    day = pc.cast(pc.if_else(pc.equal(pc.struct_field(parts, "day"), ""), "0", pc.struct_field(parts, "day")), pa.float64())
    hour = pc.cast(pc.struct_field(parts, "hour"), pa.float64())
    minute = pc.cast(pc.struct_field(parts, "minute"), pa.float64())
    second = pc.cast(pc.struct_field(parts, "second"), pa.float64())
    return pc.add(pc.add(pc.multiply(day, 86400.0), pc.multiply(hour, 3600.0)), pc.add(pc.multiply(minute, 60.0), second))


def parse_local_time(text: str, formats: tuple[str, ...]) -> datetime | None:
    """The first of ``formats`` that parses ``text`` (surrounding blanks ignored), else None."""
    text = text.strip()
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class TextLayout:
    """Where the data rows of a delimited vendor export start and how to parse them.

    Text readers split into ``layout(path, head)`` (from the first 64 KiB) and
    ``convert(path, table, layout, dropped)``, so that ``streaming`` can reuse both on batches.
    """

    offset: int  # byte offset of the first data row
    column_names: list[str]
    delimiter: str
    decimal_comma: bool = False
    text_columns: tuple[str, ...] = ()
    trailing_delimiter: bool = False  # every data row ends with one delimiter more than the column line
    encoding: str = "utf8"
    header: dict = field(default_factory=dict)  # what ``convert`` needs from the header lines
    include_columns: tuple[str, ...] = ()  # parse only these (empty: all); see ``narrowed``

    def read_options(self, block_size: int = 1 << 20, use_threads: bool = False) -> pacsv.ReadOptions:
        """Threads only without an invalid-row handler: a Python callback under pyarrow's
        threaded parser aborted the process (see eclab_mpt)."""
        return pacsv.ReadOptions(column_names=self.column_names, encoding=self.encoding, block_size=block_size,
                                 use_threads=use_threads)

    def parse_options(self, invalid_row_handler=None) -> pacsv.ParseOptions:
        return pacsv.ParseOptions(delimiter=self.delimiter, invalid_row_handler=invalid_row_handler,
                                  ignore_empty_lines=True)

    def convert_options(self, numbers_as_float: bool = False, float_columns: list[str] = ()) -> pacsv.ConvertOptions:
        """Text columns as strings; with ``numbers_as_float`` every other column float64
        (streaming needs fixed types: a column of integers may turn decimal later on), else
        those in ``float_columns``."""
        types = {name: pa.string() for name in self.text_columns} | {name: pa.float64() for name in float_columns}
        if numbers_as_float:
            types.update({name: pa.float64() for name in self.column_names if name not in self.text_columns})
        return pacsv.ConvertOptions(decimal_point="," if self.decimal_comma else ".", column_types=types,
                                    null_values=["", "N/A", "NaN", "nan"], strings_can_be_null=True,
                                    include_columns=list(self.include_columns))

    def narrowed(self, sources) -> TextLayout:
        """This layout parsing only the columns in ``sources`` (the vendor columns behind
        ``READER_COLUMNS``): the other fields of each row are split off but never converted."""
        return replace(self, include_columns=tuple(name for name in self.column_names if name in sources))


def encoding_of(sample: bytes) -> str:
    """``utf8`` when ``sample`` (possibly cut mid-character at its end) is valid UTF-8, else ``latin-1``."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf8"
    except UnicodeDecodeError:
        return "latin-1"


def with_line_feeds(data: bytes) -> bytes:
    """``data`` with CR-only line ends (old Mac exports) turned into LF, byte for byte (offsets stay valid);
    unchanged when it holds any LF."""
    return data if b"\n" in data or b"\r" not in data else data.replace(b"\r", b"\n")


def read_text_export(path, layout, convert, canonical_sources=None) -> tuple[pa.Table, dict]:
    """Read a delimited vendor export with a reader's ``layout`` and ``convert``; given the
    reader's ``canonical_sources``, parse only those columns. CR-only line ends are read as LF.

    The file goes into one Arrow buffer: Arrow's memory pool keeps pages between files, while
    ``bytes`` of more than 32 MiB are fresh pages on every read (about 5x slower).
    """
    with pa.OSFile(str(path)) as stream:
        data = stream.read_buffer()
    head = data[:65536].to_pybytes()
    if with_line_feeds(head) is not head:
        data = pa.py_buffer(with_line_feeds(data.to_pybytes()))
    text_layout = layout(path, data[:65536].to_pybytes())
    if canonical_sources is not None:
        text_layout = text_layout.narrowed(canonical_sources(text_layout))
    table, dropped, bad_rows = read_delimited(path, data, text_layout)
    table, metadata = convert(path, table, text_layout, dropped)
    if bad_rows:
        metadata.setdefault("warnings", []).append(bad_rows_warning(bad_rows))
    return table, metadata


def bad_rows_warning(bad_rows: list[str], shown: int = 5) -> str:
    more = f"; and {len(bad_rows) - shown} more" if len(bad_rows) > shown else ""
    return f"{len(bad_rows)} data row(s) skipped for a value that is not a number: {'; '.join(bad_rows[:shown])}{more}"


def read_delimited(path, data: bytes | pa.Buffer, layout: TextLayout, *,
                   allow_empty: bool = False) -> tuple[pa.Table, int, list[str]]:
    """The data rows of a vendor file (all of ``data``) as Arrow, how many malformed rows were
    dropped, and the rows dropped for a value that is not a number (line, column, value).

    Rows with the wrong number of fields (a truncated last row, a padded footer) are dropped
    and counted rather than failing the file. A number column where a few values are not numbers
    is parsed again as numbers and those rows are dropped (``parse_dropping_bad_rows``). A file
    with no data row yet (a run that has just started) is ``UnreadableFile`` unless ``allow_empty``.
    """
    dropped = 0

    def drop(_row) -> str:
        nonlocal dropped
        dropped += 1
        return "skip"

    if layout.trailing_delimiter:
        end = layout.delimiter.encode()
        rows = bytes(data[layout.offset:])
        body = pa.py_buffer(rows.replace(end + b"\r\n", b"\r\n").replace(end + b"\n", b"\n"))
    else:
        body = (data if isinstance(data, pa.Buffer) else pa.py_buffer(data)).slice(layout.offset)  # no copy
    if body.size < 1024 and not body.to_pybytes().strip():  # a column line and no rows
        if not allow_empty:
            raise UnreadableFile(path, "no data rows after the header yet (the run may just have started)")
        return pa.table({name: pa.array([], pa.string()) for name in layout.column_names}), 0, []
    bad_rows: list[str] = []
    try:
        table = _read_regular(body, layout)
        if table is None:  # a malformed row somewhere: one thread, dropping and counting such rows
            table = pacsv.read_csv(pa.BufferReader(body), read_options=layout.read_options(),
                                   parse_options=layout.parse_options(drop), convert_options=layout.convert_options())
        numeric = _numbers_read_as_text(table, layout)
        if numeric:
            dropped = 0
            options = layout.convert_options(float_columns=numeric)
            table, bad_rows = parse_dropping_bad_rows(
                path, body, lambda rows: pacsv.read_csv(pa.BufferReader(rows), read_options=layout.read_options(),
                                                        parse_options=layout.parse_options(drop),
                                                        convert_options=options),
                layout.column_names, first_line=bytes(data[:layout.offset]).count(b"\n") + 1)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise UnreadableFile(path, f"data block is not a consistent {layout.delimiter!r}-separated table: {exc}") from exc
    if table.num_rows == 0 and not allow_empty:
        raise UnreadableFile(path, f"no complete data row ({dropped} malformed row(s) skipped)")
    return table, dropped, bad_rows


_NUMBER = r"^\s*[-+]?(\d+([.]\d*)?|[.]\d+)([eE][-+]?\d+)?\s*$"


def _numbers_read_as_text(table: pa.Table, layout: TextLayout) -> list[str]:
    """Columns read as text although most of their values are numbers (a damaged cell or two)."""
    pattern = _NUMBER.replace("[.]", "[,]") if layout.decimal_comma else _NUMBER
    found = []
    for name, column in zip(table.column_names, table.columns):
        if name in layout.text_columns or not pa.types.is_string(column.type) or column.null_count == len(column):
            continue
        numbers = pc.sum(pc.match_substring_regex(column, pattern)).as_py() or 0
        if numbers >= 0.9 * (len(column) - column.null_count):
            found.append(name)
    return found


def _read_regular(body: pa.Buffer, layout: TextLayout) -> pa.Table | None:
    """``body`` parsed on every core when each row has as many fields as the column line, else ``None``.

    The last row is checked first, since a file still being written usually ends in a
    partial one; a malformed row elsewhere makes pyarrow fail, and the caller falls back.
    """
    last_row = bytes(body[-4096:]).rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
    if last_row.count(layout.delimiter.encode()) != len(layout.column_names) - 1:
        return None
    try:
        return pacsv.read_csv(pa.BufferReader(body), read_options=layout.read_options(1 << 22, use_threads=True),
                              parse_options=layout.parse_options(), convert_options=layout.convert_options())
    except pa.ArrowInvalid:
        return None


MAX_BAD_ROWS = 100  # rows with a value that is not a number dropped before a file is refused
_CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): Row #(\d+): CSV conversion error to (\w+): invalid value '(.*)'",
                               re.DOTALL)


def parse_dropping_bad_rows(path, body: pa.Buffer, parse, column_names: list[str],
                            first_line: int) -> tuple[pa.Table, list[str]]:
    """``parse(body)`` (a single-threaded ``pyarrow.csv`` read); a row with a value its column cannot
    hold is dropped and described (file line, column, value), up to ``MAX_BAD_ROWS`` rows.

    ``first_line`` is the file's line number of the body's first line. Returns the table and the
    descriptions, in file order.
    """
    dropped: dict[int, str] = {}  # by the line's index in the original body
    while True:
        try:
            return parse(body), [dropped[index] for index in sorted(dropped)]
        except pa.ArrowInvalid as exc:
            found = _CONVERSION_ERROR.search(str(exc))
            starts = _line_starts(body)
            index = _nonempty_line(body, starts, int(found[2])) if found else None
            if index is None:
                raise
            column, value = int(found[1]), found[4]
            original = index
            for gone in sorted(dropped):  # pyarrow reports columns in order, so rows come in any order
                original += gone <= original
            line = first_line + original
            name = column_names[column] if column < len(column_names) else f"#{column + 1}"
            text = f"line {line}, column {name!r}: {value[:40]!r} is not a number"
            if len(dropped) >= MAX_BAD_ROWS:
                raise UnreadableFile(path, f"more than {MAX_BAD_ROWS} data rows hold a value that is not a number, "
                                           f"e.g. {text}", location=f"line {line}") from None
            dropped[original] = text
            end = starts[index + 1] if index + 1 < len(starts) else body.size
            body = pa.py_buffer(body[:starts[index]].to_pybytes() + body[end:].to_pybytes())


def _line_starts(body: pa.Buffer) -> np.ndarray:
    newlines = np.flatnonzero(np.frombuffer(body, np.uint8) == 10)
    return np.r_[0, newlines[newlines < body.size - 1] + 1]


def _nonempty_line(body: pa.Buffer, starts: np.ndarray, row: int) -> int | None:
    """The index of the ``row``-th (1-based) non-empty line, as pyarrow counts rows with ``ignore_empty_lines``."""
    data = np.frombuffer(body, np.uint8)
    if data.size == 0:
        return None
    first = data[starts]
    second = data[np.minimum(starts + 1, data.size - 1)]
    at_end = starts + 1 >= data.size
    empty = (first == 10) | ((first == 13) & (at_end | (second == 10)))
    nonempty = np.flatnonzero(~empty)
    return int(nonempty[row - 1]) if 0 < row <= nonempty.size else None


def simple_layout(data: bytes, delimiter: str = ",", **options) -> TextLayout:
    """Layout of a plain delimited file whose first line names the columns."""
    first_line = decode_text(data[: data.find(b"\n") if b"\n" in data else len(data)]).rstrip("\r")
    return TextLayout(offset=line_offset(data, 1) if b"\n" in data else len(data),
                      column_names=[name.strip() for name in first_line.split(delimiter)], delimiter=delimiter,
                      encoding=encoding_of(data[: 1 << 20]), **options)


def line_offset(data: bytes, count: int) -> int:
    """Byte offset just after the first ``count`` lines of ``data``."""
    offset = 0
    for _ in range(count):
        offset = data.index(b"\n", offset) + 1
    return offset


def as_float(table: pa.Table, name: str) -> np.ndarray:
    """A column as float64 numpy (nulls -> NaN); strings with decimal commas are converted."""
    column = table.column(name)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.replace_substring(column, ",", ".")
        column = pc.if_else(pc.equal(pc.utf8_trim_whitespace(column), ""), None, column)
    return column.cast(pa.float64()).to_numpy(zero_copy_only=False)


def reader_table(canonical: dict[str, object], extras: pa.Table | dict[str, object] | None = None,
                 skip: tuple[str, ...] = ()) -> pa.Table:
    """The reader output: READER_COLUMNS (typed, nulls where ``canonical`` lacks one), then extras.

    ``extras`` are the file's other columns already under unit-bearing names (``None``: absent); names in
    ``skip`` or clashing with a canonical column are left out.
    """
    n = len(next(iter(canonical.values())))
    arrays, fields = [], []
    for column in READER_COLUMNS:
        values = canonical.get(column.name)
        if values is None:
            array = pa.nulls(n, column.type)
        elif isinstance(values, (pa.Array, pa.ChunkedArray)):
            array = values.cast(column.type)
        else:
            array = arrow_of(values).cast(column.type)
        arrays.append(array)
        fields.append(pa.field(column.name, column.type, metadata={"unit": column.unit}))
    taken = {f.name for f in fields} | set(skip)
    if isinstance(extras, pa.Table):
        extra_items = zip(extras.column_names, extras.columns)
    else:
        extra_items = (extras or {}).items()
    for name, values in extra_items:
        if name in taken or values is None:
            continue
        taken.add(name)
        array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else arrow_of(values)
        arrays.append(array)
        fields.append(pa.field(name, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def arrow_of(values) -> pa.Array:
    """An Arrow array of numpy or list ``values``, NaN as null; a float array without NaN is not copied."""
    values = np.asarray(values)
    if values.dtype.kind != "f":
        return pa.array(values, from_pandas=True)
    missing = np.isnan(values)
    return pa.array(values, mask=missing) if missing.any() else pa.array(values)


def renamed_extras(table: pa.Table, used: set[str], known: dict[str, str] | None = None) -> pa.Table:
    """The columns of ``table`` not in ``used``, renamed by ``known`` or else by ``unit_column_name``.

    ``known`` maps vendor names whose unit the name does not show to unit-bearing names.
    When two columns end up with one name, the first keeps it.
    """
    names, columns, seen = [], [], set()
    known = known or {}
    for name, column in zip(table.column_names, table.columns):
        new = known.get(name) or unit_column_name(name)
        if name in used or new in seen or pa.types.is_null(column.type):
            continue
        seen.add(new)
        names.append(new)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=names)


def cycling_metadata(*, instrument: str, source_columns: list[str], start_time_local: datetime | None,
                     timezone: str | None = None, measurement_kind: str = "cycling",
                     warnings: list[str] | None = None, lacks: list[str] | None = None, **extra) -> dict:
    """The metadata dict every cycler reader returns (keys of the reader contract, then extras)."""
    warnings = list(warnings or [])
    lacks = list(lacks or [])
    if timezone is None:
        if "timezone" not in lacks:
            lacks.append("timezone")
        warnings.append("the file states no timezone: its clock times are local times of an unknown zone")
    return {
        "start_time_local": start_time_local.isoformat() if start_time_local else None,
        "timezone": timezone,
        "instrument": instrument,
        "measurement_kind": measurement_kind,
        "source_columns": list(source_columns),
        "warnings": warnings,
        "lacks": lacks,
        **extra,
    }
