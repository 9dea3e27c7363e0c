"""The glibc setting that lets column-sized numpy temporaries reuse freed memory, made at the entry points only."""

import platform
import subprocess
import sys

import pytest

from bigmap_assets.ingest.allocator import keep_freed_memory

glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# Page faults of 32 MB of numpy arrays allocated after the same arrays were freed twice, after SETUP.
FAULTS_AFTER = """
import resource, sys
import numpy as np
exec(sys.argv[1])
for _ in range(2):  # warm up: the heap grows once
    arrays = [np.ones(500_000) for _ in range(8)]
    del arrays
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
arrays = [np.ones(500_000) for _ in range(8)]
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults_after(setup: str) -> int:
    done = subprocess.run([sys.executable, "-c", FAULTS_AFTER, setup], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not glibc, reason="mallopt is a glibc setting")
def test_the_entry_points_reuse_freed_memory_and_a_plain_import_leaves_malloc_alone():
    fresh_pages = 32e6 / 4096  # about 7,800 faults without the setting
    assert faults_after("import bigmap_assets, bigmap_assets.readers, bigmap_assets.science.cycling") > fresh_pages / 2
    assert faults_after("from bigmap_assets.ingest.allocator import keep_freed_memory; assert keep_freed_memory()") < 500
    assert faults_after("from bigmap_assets.cli import main; assert main(['read', '/no/such/file.mpt']) == 2") < 500
    assert faults_after("import bigmap_assets.definitions") < 500


@pytest.mark.skipif(glibc, reason="only off glibc")
def test_other_platforms_are_left_alone():
    assert keep_freed_memory() is False
