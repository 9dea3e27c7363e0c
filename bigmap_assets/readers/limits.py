"""Declared sizes checked before reading, so a small file cannot unpack into gigabytes.

A 2 MB spreadsheet can declare 1 GB of shared strings, an HDF5 file a dataset of any shape:
the libraries that read them would allocate it all (and, under a memory limit, abort the
process). Zip archives (``.xlsx``, ``.ods``, ``.ndax``) and HDF5 files state those sizes in
their directories, which are cheap to read first.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import h5py

from ..ingest.errors import UnreadableFile

MAX_UNPACKED_BYTE = 512 * 2**20  # what the members of one zip archive may unpack to, together
MAX_DATASET_BYTE = 2**30  # what one HDF5 dataset may hold
MAX_TEXT_VALUES = 64  # a dataset read as a text field (a title, a definition) while sniffing holds no more values


def check_zip(path: Path, limit_byte: int = MAX_UNPACKED_BYTE) -> None:
    """``UnreadableFile`` when the archive's members would unpack to more than ``limit_byte``;
    nothing to say about a file that is not a zip archive (its reader finds out)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return
    total = sum(member.file_size for member in members)
    if total > limit_byte:
        biggest = max(members, key=lambda member: member.file_size)
        raise UnreadableFile(path, f"the archive would unpack to {total / 2**20:,.0f} MiB ({biggest.filename}: "
                                   f"{biggest.file_size / 2**20:,.0f} MiB from {biggest.compress_size / 2**20:,.1f} MiB), "
                                   f"more than the {limit_byte / 2**20:,.0f} MiB allowed: not read")


def check_hdf5(path: Path, h5: h5py.File, limit_byte: int = MAX_DATASET_BYTE) -> None:
    """``UnreadableFile`` naming the first dataset whose declared shape holds more than ``limit_byte``."""
    too_big: list[str] = []

    def visit(name: str, item) -> bool | None:
        if isinstance(item, h5py.Dataset) and item.size * item.dtype.itemsize > limit_byte:
            too_big.append(f"dataset {name} declares {item.shape} x {item.dtype} "
                           f"({item.size * item.dtype.itemsize / 2**20:,.0f} MiB)")
            return True  # stop visiting
        return None

    h5.visititems(visit)
    if too_big:
        raise UnreadableFile(path, f"{too_big[0]}, more than the {limit_byte / 2**20:,.0f} MiB allowed: not read")
