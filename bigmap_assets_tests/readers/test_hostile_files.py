"""Every reader failure, in sniffing too, becomes an ``UnreadableFile`` with the reason; a run goes on."""

from __future__ import annotations

import shutil

import pytest

from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.ingest.admission import read_partition
from bigmap_assets.readers import READERS, find_reader, metadata_of, read


def duplicated_chunk(data: bytes, source: int, target: int, size: int) -> bytes:
    """``data`` with ``size`` bytes from ``source`` copied over the bytes at ``target``."""
    mutated = bytearray(data)
    mutated[target:target + size] = data[source:source + size]
    return bytes(mutated)


@pytest.fixture()
def corrupt_h5(realdata, tmp_path):
    """Fe_XDIFiles.h5 with one 1 KiB chunk duplicated: h5py raises RuntimeError while the NXxas sniffer looks."""
    original = (realdata / "xas" / "other" / "Fe_XDIFiles.h5").read_bytes()
    path = tmp_path / "data" / "raw" / "xas" / "FE-01" / "Fe_XDIFiles.h5"
    path.parent.mkdir(parents=True)
    path.write_bytes(duplicated_chunk(original, 5457, 59080, 1024))
    return path


def test_a_corrupt_hdf5_file_fails_in_sniffing_as_an_unreadable_file(corrupt_h5):
    with pytest.raises(UnreadableFile) as raised:
        read(corrupt_h5)
    assert raised.value.path == str(corrupt_h5)
    assert raised.value.reason.startswith("it looks like xas_nxxas but cannot be opened as one: RuntimeError: ")
    assert "bad symbol table node signature" in raised.value.reason


def test_the_corrupt_file_becomes_an_ingest_issue_and_the_others_still_read(corrupt_h5, realdata):
    shutil.copy(realdata / "xas" / "other" / "ni_metal_rt.xdi", corrupt_h5.parent)
    data_dir = corrupt_h5.parents[3]
    files = read_partition(data_dir, "xas", "FE-01")
    assert [f.path for f in files.files] == ["raw/xas/FE-01/ni_metal_rt.xdi"]
    assert [(i.path, i.severity) for i in files.issues if i.severity == "error"] == [
        ("raw/xas/FE-01/Fe_XDIFiles.h5", "error")]
    assert "RuntimeError" in files.issues[0].reason


class Panic(BaseException):
    """What a Rust library's panic looks like from Python (pyo3's PanicException derives from BaseException)."""


def test_a_panic_in_a_sniffer_or_a_reader_is_an_unreadable_file(tmp_path, monkeypatch):
    monkeypatch.setenv("BIGMAP_READER_MEMORY_MB", "0")  # read in this process, where the reader is patched
    path = tmp_path / "cell.nda"
    path.write_bytes(b"NEWARE" + bytes(200))
    neware = next(r for r in READERS if r.NAME == "neware")

    def panics(*_args, **_kwargs):
        raise Panic("called `Result::unwrap()` on an `Err` value: UnexpectedEof")

    monkeypatch.setattr(neware, "sniff", panics)
    with pytest.raises(UnreadableFile, match="cannot be opened as one: Panic: called `Result::unwrap"):
        find_reader(path)
    monkeypatch.setattr(neware, "sniff", lambda _path, _head: True)
    monkeypatch.setattr(neware, "read", panics)
    with pytest.raises(UnreadableFile, match="neware reader failed: Panic: called"):
        read(path)


def test_an_interrupt_is_not_swallowed(tmp_path, monkeypatch):
    monkeypatch.setenv("BIGMAP_READER_MEMORY_MB", "0")  # read in this process, where the sniffer is patched
    path = tmp_path / "cell.nda"
    path.write_bytes(b"NEWARE" + bytes(200))
    neware = next(r for r in READERS if r.NAME == "neware")

    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(neware, "sniff", interrupted)
    with pytest.raises(KeyboardInterrupt):
        find_reader(path)



def with_line(data: bytes, index: int, change) -> bytes:
    lines = data.split(b"\n")
    lines[index] = change(lines[index])
    return b"\n".join(lines)


@pytest.mark.parametrize("name", ["novonix/pyprobe_sample_data_novonix.csv", "basytec/pyprobe_sample_data_basytec.txt",
                                  "arbin/pyprobe_sample_data_arbin.csv", "maccor/beep_maccor_test_file_4267-66-6519.041",
                                  "maccor/cellpy_maccor_002.txt", "eclab/yadg/mb.issue_95.mpt"])
def test_cr_only_line_ends_read_as_the_original(realdata, tmp_path, name):
    original = realdata / "cycling" / name
    mac = tmp_path / original.name
    mac.write_bytes(original.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    expected, got = read(original, canonical_only=True), read(mac, canonical_only=True)
    assert got.num_rows == expected.num_rows > 10
    assert got.to_pydict() == expected.to_pydict()


def test_cr_only_rows_stream_as_the_original(realdata, tmp_path):
    from bigmap_assets.readers.streaming import iter_batches

    original = realdata / "cycling" / "maccor" / "cellpy_maccor_002.txt"  # rows end in a tab: the trailing-delimiter path
    mac = tmp_path / original.name
    mac.write_bytes(original.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    rows = [sum(b.num_rows for b in iter_batches(p, batch_rows=1000, canonical_only=True)) for p in (original, mac)]
    assert rows == [7446, 7446]


def test_a_maccor_value_that_is_not_a_number_drops_its_row_and_names_line_and_column(realdata, tmp_path):
    path = tmp_path / "cell.txt"
    original = (realdata / "cycling" / "maccor" / "cellpy_maccor_002.txt").read_bytes()
    path.write_bytes(with_line(with_line(original, 99, lambda line: line.replace(b"0.00000000", b"0,00000000", 1)),
                               4999, lambda line: line.replace(b"\t", b"\tx", 1)))
    table = read(path)
    assert table.num_rows == 7446 - 2
    warnings = metadata_of(table)["warnings"]
    assert ("2 data row(s) skipped for a value that is not a number: line 100, column 'Cap. [Ah]': '0,00000000' is "
            "not a number; line 5000, column 'Cycle P': 'x1' is not a number") in warnings, warnings


def test_a_short_first_maccor_row_is_dropped_not_an_index_error(realdata, tmp_path):
    path = tmp_path / "cell.txt"
    original = (realdata / "cycling" / "maccor" / "cellpy_maccor_002.txt").read_bytes()
    path.write_bytes(with_line(original, 15, lambda line: b"\t".join(line.split(b"\t")[:5])))
    table = read(path)
    assert table.num_rows == 7445
    assert "1 malformed row(s) skipped (e.g. a truncated last row)" in metadata_of(table)["warnings"]
    path.write_bytes(b"\n".join(original.split(b"\n")[:15] + [b"1\t0\t1"]))
    with pytest.raises(UnreadableFile, match=r"\(line 16\): the first data row has 3 fields, expected the 28 of the column line \(line 14\)"):
        read(path)


def test_a_byte_above_0x7f_in_an_mpt_data_row_drops_that_row_quietly(realdata, tmp_path, capfd):
    path = tmp_path / "cell.mpt"
    original = (realdata / "cycling" / "eclab" / "yadg" / "mb.issue_95.mpt").read_bytes()
    path.write_bytes(with_line(original, 96, lambda line: line[:5] + b"\x80" + line[5:]))
    table = read(path)
    assert table.num_rows == read(realdata / "cycling" / "eclab" / "yadg" / "mb.issue_95.mpt").num_rows - 1
    assert any(w.startswith("1 data row(s) skipped for a value that is not a number: line 97, column ")
               for w in metadata_of(table)["warnings"])
    path.write_bytes(with_line(original, 96, lambda line: line + b"\t\x80"))  # a field too many, not UTF-8
    assert read(path).num_rows == table.num_rows
    assert "Exception ignored" not in capfd.readouterr().err


@pytest.mark.parametrize(("kept", "page"), [(1 / 2, "offset 274432 is beyond EOF error: reading page 67 failed."),
                                           (3 / 4, "offset 401408 is beyond EOF error: reading page 98 failed.")])
def test_a_truncated_arbin_res_file_says_so(realdata, tmp_path, kept, page):
    if shutil.which("mdb-export") is None:
        pytest.skip("mdbtools is not installed")
    path = tmp_path / "cell.res"
    original = (realdata / "cycling" / "arbin" / "navani_arbin_example.res").read_bytes()
    path.write_bytes(original[: int(len(original) * kept)])  # pages of the data table missing: rows lost, some blank
    with pytest.raises(UnreadableFile) as raised:
        read(path)
    assert raised.value.reason == (f"Channel_Normal_Table cannot be read whole (mdb-export: {page}): a truncated or "
                                   f"damaged .res file ({path.stat().st_size} bytes)")


def test_a_spreadsheet_declaring_gigabytes_is_refused_before_it_is_unpacked(tmp_path):
    import time
    import zipfile

    from bigmap_assets.readers.limits import MAX_UNPACKED_BYTE

    bomb = tmp_path / "survey.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/sharedStrings.xml", "w") as member:
            chunk = b"<si><t>a</t></si>" * (2**20 // 17)
            for _ in range(MAX_UNPACKED_BYTE // len(chunk) + 2):
                member.write(chunk)
    assert bomb.stat().st_size < 8 * 2**20
    started = time.perf_counter()
    with pytest.raises(UnreadableFile, match=r"the archive would unpack to 51\d MiB \(xl/sharedStrings.xml: 51\d MiB "
                                             r"from \d\.\d MiB\), more than the 512 MiB allowed: not read"):
        read(bomb)
    assert time.perf_counter() - started < 2.0


def test_an_hdf5_dataset_declaring_gigabytes_is_refused_before_it_is_read(tmp_path):
    import h5py
    import numpy as np

    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as h5:
        entry = h5.create_group("entry")
        entry["definition"] = "NXxas"
        entry.create_dataset("energy", shape=(2**31,), dtype=np.float64, chunks=(2**16,), compression="gzip")
        entry.create_dataset("title", shape=(2**31,), dtype="S8", chunks=(2**16,), compression="gzip")
    assert path.stat().st_size < 2**20
    with pytest.raises(UnreadableFile, match=r"dataset entry/energy declares \(2147483648,\) x float64 \(16,384 MiB\), "
                                             r"more than the 1,024 MiB allowed: not read"):
        read(path)
