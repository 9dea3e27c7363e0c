"""How this process's C allocator treats big freed blocks (glibc only).

By default glibc hands every block over 128 KiB (up to a threshold it raises as blocks are
freed) straight back to the operating system, so the next column-sized numpy temporary is
fresh memory and pays one page fault per 4 KiB page on first write. On the 2-core CI virtual
machine a fault costs about 3 µs: 64 MiB of fresh temporaries take 40-48 ms against 5 ms to
rewrite memory already mapped, and half of the time spent turning a 500k-row Maccor export
into the canonical table went to such faults. Arrow's own allocator (jemalloc) already
keeps freed memory for reuse; ``keep_freed_memory`` makes glibc do the same for numpy.

It is a process-wide setting, so only the project's own entry points make it: the ``bigmap``
command (``cli.main``) and the Dagster code location (``definitions``). A notebook or another
program that imports ``bigmap_assets`` keeps its allocator as it was.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20  # blocks up to this size come from the heap (glibc's maximum on 64-bit)
TRIM_THRESHOLD_BYTES = 128 << 20  # free memory kept at the top of the heap before any is returned


def keep_freed_memory() -> bool:
    """Let glibc reuse freed blocks of up to 32 MiB and keep up to 128 MiB free for reuse.

    Returns whether the setting took (False off Linux/glibc, where nothing changes).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
