"""Every reader failure, in sniffing too, becomes an ``UnreadableFile`` with the reason; a run goes on."""

from __future__ import annotations

import shutil

import pytest

from bigmap_assets.errors import UnreadableFile
from bigmap_assets.ingest import read_partition
from bigmap_assets.readers import READERS, find_reader, read


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
    path = tmp_path / "cell.nda"
    path.write_bytes(b"NEWARE" + bytes(200))
    neware = next(r for r in READERS if r.NAME == "neware")

    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(neware, "sniff", interrupted)
    with pytest.raises(KeyboardInterrupt):
        find_reader(path)

