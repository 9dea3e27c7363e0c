"""The glibc setting that lets column-sized numpy temporaries reuse freed memory."""

import platform
import resource
import sys

import numpy as np
import pytest

from bigmap_assets.allocator import keep_freed_memory

glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not glibc, reason="mallopt is a glibc setting")
def test_freed_column_sized_arrays_are_reused_without_page_faults():
    assert keep_freed_memory()  # also done when bigmap_assets is imported
    for _ in range(2):  # warm up: the heap grows once
        arrays = [np.ones(500_000) for _ in range(8)]
        del arrays
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    arrays = [np.ones(500_000) for _ in range(8)]  # 32 MB: about 7,800 fresh pages without the setting
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del arrays
    assert faults < 500


@pytest.mark.skipif(glibc, reason="only off glibc")
def test_other_platforms_are_left_alone():
    assert keep_freed_memory() is False
