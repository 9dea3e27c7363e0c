"""A memory bomb that slips past the declared-size checks, or a file a decoder loops on, ends in its
capped reader process as an ``UnreadableFile`` naming the file; the caller, and the other files, go on."""

from __future__ import annotations

import faulthandler
import struct
import time
import zipfile

import dagster as dg
import h5py
import numpy as np
import openpyxl
import pytest

from bigmap_assets.defs.materialize import materialize_all
from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.readers import memory_cap, metadata_of, read
from bigmap_assets.simulate import survey as survey_sim
from bigmap_assets.warehouse import catalog

CAP_MIB = 64
MEMORY_REASON = (f"reading it needs more than the {CAP_MIB} MiB of memory a read may use (BIGMAP_READER_MEMORY_MB): "
                 "a damaged or hostile file, or one to read with a higher cap")


def shared_strings_bomb(path, unpacked_mib: int = 96):
    """A small ``.xlsx`` form (a "Partner name" label) whose shared strings unpack to ``unpacked_mib`` MiB,
    under the 512 MiB declared-size limit: python-calamine holds every string, several times their bytes."""
    book = openpyxl.Workbook()
    book.active["A1"], book.active["A2"] = "Partner name", "Experimental technique"
    form = path.with_name("form.xlsx")
    book.save(form)
    with zipfile.ZipFile(form) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bomb:
        for member in source.infolist():
            if member.filename != "xl/sharedStrings.xml":
                bomb.writestr(member, source.read(member))
        with bomb.open("xl/sharedStrings.xml", "w") as strings:
            strings.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                          b"<si><t>Partner name</t></si><si><t>Experimental technique</t></si>")
            chunk = b"<si><t>a</t></si>" * (2**20 // 17)
            for _ in range(unpacked_mib):
                strings.write(chunk)
            strings.write(b"</sst>")
    form.unlink()
    return path


def test_a_shared_strings_bomb_is_an_unreadable_file_not_a_dead_process(tmp_path, monkeypatch):
    monkeypatch.setenv(memory_cap.ENV, str(CAP_MIB))
    bomb = shared_strings_bomb(tmp_path / "survey.xlsx")
    assert bomb.stat().st_size < 2**20
    with pytest.raises(UnreadableFile) as raised:
        read(bomb)
    assert (raised.value.path, raised.value.reason) == (str(bomb), MEMORY_REASON)


def test_an_hdf5_dataset_too_big_for_the_cap_is_an_unreadable_file(tmp_path, monkeypatch):
    """512 MiB of energies (under the 1 GiB declared-size limit), never written, so the file stays small:
    numpy's allocation fails in the child (a MemoryError, not an abort)."""
    monkeypatch.setenv(memory_cap.ENV, str(CAP_MIB))
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as h5:
        entry = h5.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["definition"] = "NXxas"
        entry.create_dataset("energy", shape=(2**26,), dtype=np.float64, chunks=(2**16,), compression="gzip")
    assert path.stat().st_size < 2**20
    with pytest.raises(UnreadableFile) as raised:
        read(path)
    assert (raised.value.path, raised.value.reason) == (str(path), MEMORY_REASON)


def test_real_files_read_the_same_capped_and_in_process(realdata, monkeypatch):
    paths = [realdata / "cycling" / "neware" / "navani_test.nda", realdata / "xas" / "other" / "Fe_XDIFiles.h5"]
    capped = [read(path) for path in paths]
    monkeypatch.setenv(memory_cap.ENV, "0")
    in_process = [read(path) for path in paths]
    for a, b in zip(capped, in_process):
        assert a.num_rows > 100 and a.equals(b)
        assert metadata_of(a) == metadata_of(b)


def test_a_run_with_the_bomb_records_it_and_publishes_the_other_forms(tmp_path, monkeypatch):
    monkeypatch.setenv(memory_cap.ENV, str(CAP_MIB))
    survey_sim.generate(tmp_path)
    shared_strings_bomb(tmp_path / "raw" / "survey" / "bomb.xlsx")
    report = materialize_all(tmp_path, instance=dg.DagsterInstance.ephemeral())
    assert report.succeeded, report.runs
    con = catalog.connect(tmp_path / "warehouse")
    assert con.execute("SELECT count(*) FROM survey_answers").fetchone()[0] == 860  # every generated form
    assert con.execute("SELECT reason FROM ingest_issues WHERE path = 'raw/survey/bomb.xlsx'").fetchall() == [
        (MEMORY_REASON,)]


def zero_size_global_heap_object(path) -> None:
    """Three NXxas entries whose variable-length strings live in the file's global heap; the second heap
    object's index and size then set to 0, as the fuzzer did to Fe_XDIFiles.h5 (two bytes changed):
    libhdf5 loops forever reading the collection (in C, out of reach of Python's signals)."""
    with h5py.File(path, "w") as h5:
        for name in ("fe", "ni", "cu"):
            entry = h5.create_group(name)
            entry["definition"] = "NXxas"
            entry["title"] = f"{name} foil"
    data = bytearray(path.read_bytes())
    collection = data.index(b"GCOL")
    first = collection + 16  # after the signature, version, reserved bytes and the collection's size
    index, _, _, size = struct.unpack_from("<HHIQ", data, first)
    assert (index, size, bytes(data[first + 16:first + 21])) == (1, 5, b"NXxas")
    second = first + 16 + (size + 7) // 8 * 8
    struct.pack_into("<HHIQ", data, second, 0, 0, 0, 0)  # index 0 (free space), no references, size 0
    path.write_bytes(bytes(data))


def test_a_file_libhdf5_loops_on_is_stopped_by_the_cpu_limit(tmp_path, monkeypatch):
    monkeypatch.setenv(memory_cap.CPU_ENV, "2")
    path = tmp_path / "scans.h5"
    zero_size_global_heap_object(path)
    started = time.monotonic()
    faulthandler.dump_traceback_later(120, exit=True)  # were the limit gone, fail instead of stalling the suite
    try:
        with pytest.raises(UnreadableFile) as raised:
            read(path)
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert (raised.value.path, raised.value.reason) == (str(path), (
        "reading it took more than the 2 s of CPU time a read may use (BIGMAP_READER_CPU_SECONDS): a damaged or "
        "hostile file that a decoder loops on, or one to read with a higher limit"))
    assert time.monotonic() - started < 60  # 2 s of CPU, however loaded the machine


def test_a_bad_cap_setting_is_refused(monkeypatch):
    monkeypatch.setenv(memory_cap.ENV, "lots")
    with pytest.raises(ValueError, match="BIGMAP_READER_MEMORY_MB='lots': expected a whole number of MiB"):
        memory_cap.cap_mib()
    monkeypatch.setenv(memory_cap.CPU_ENV, "0")
    with pytest.raises(ValueError, match="BIGMAP_READER_CPU_SECONDS='0': expected a whole number of seconds"):
        memory_cap.cpu_second()
