"""One writer per data folder: ``bigmap materialize`` holds ``warehouse/.materialize.lock`` while it runs.

The lock is an ``flock`` on the file, so it goes away with the process that held it (even
after ``kill -9``); the file only says who holds it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

LOCK_NAME = ".materialize.lock"


@contextmanager
def data_folder_lock(data_dir: Path, log: Callable[[str], None] = lambda line: None) -> Iterator[None]:
    """Hold the data folder's run lock; when another process holds it, say so and wait for it."""
    path = data_dir / "warehouse" / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            log(f"waiting: {holder} is materialising {data_dir}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        handle.write(f"bigmap materialize (pid {os.getpid()}, since {started})\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
