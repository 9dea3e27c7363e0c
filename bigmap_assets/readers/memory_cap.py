"""Files decoded by native libraries are read in a child process whose memory and CPU time are capped.

The declared-size checks (``limits``) stop the memory bombs that say what they are; a damaged
file can still lead a decoder to allocate far more than the file holds. Rust libraries
(python-calamine for spreadsheets, fastnda and polars for Neware files) then abort the whole
process, and HDF5 is C: none of that can be caught in Python. So zip archives (``.xlsx``,
``.ods``, ``.ndax``), OLE2 workbooks (``.xls``), HDF5 files and Neware ``.nda`` files are
sniffed and read in a child of a forkserver (a clean process: no thread pools of the caller,
whose copies would deadlock), under ``RLIMIT_DATA`` set to what the child starts with plus
``BIGMAP_READER_MEMORY_MB`` (default 2048; ``0`` reads in the calling process, uncapped).
``RLIMIT_DATA`` counts the heap and private writable mappings, that is memory a read uses;
``RLIMIT_AS`` would also count the address space the native allocators reserve and never touch
(over 1 GiB for one Neware read). A decoder can also loop forever on a damaged file (libhdf5
on a global heap object of size 0, found by fuzzing), out of reach of Python's signals, so
the child's CPU time is limited too (``RLIMIT_CPU``, ``BIGMAP_READER_CPU_SECONDS``, default
600). The table comes back as an Arrow IPC file; a child that runs out of memory or time, or
dies, becomes an ``UnreadableFile`` naming the file, so one file never ends or stalls a run.
Text formats are read in the calling process: their memory follows their size, and the big ones
are streamed.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import resource
import signal
import sys
import tempfile
from collections.abc import Callable
from multiprocessing import context, forkserver, popen_forkserver, spawn, util
from pathlib import Path

import pyarrow as pa

from ..ingest.errors import UnreadableFile, failure_reason, must_propagate

ENV = "BIGMAP_READER_MEMORY_MB"
DEFAULT_MIB = 2048
CPU_ENV = "BIGMAP_READER_CPU_SECONDS"
DEFAULT_CPU_SECOND = 600
NATIVE_MAGIC = (
    b"PK\x03\x04",  # zip: .xlsx, .ods, .ndax
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # OLE2: .xls
    b"\x89HDF\r\n\x1a\n",  # HDF5: NeXus .nxs, .h5
    b"NEWARE",  # Neware .nda
)
# Imported by the forkserver once, so that each child starts with them (only imported: a forkserver
# that had started polars' thread pool would hand its children a pool they cannot use).
PRELOAD = ["bigmap_assets.readers", "fastnda", "fastnda.nda", "fastnda.ndax", "polars", "python_calamine", "h5py"]

_in_child = False


def cap_mib() -> int:
    """The cap in MiB from ``BIGMAP_READER_MEMORY_MB`` (``DEFAULT_MIB`` when unset, 0 for none)."""
    return _setting(ENV, DEFAULT_MIB, "MiB (0 for no cap)")


def cpu_second() -> int:
    """The CPU time a capped read may use, from ``BIGMAP_READER_CPU_SECONDS`` (``DEFAULT_CPU_SECOND`` when unset)."""
    return _setting(CPU_ENV, DEFAULT_CPU_SECOND, "seconds", minimum=1)


def _setting(name: str, default: int, unit: str, minimum: int = 0) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"{name}={text!r}: expected a whole number of {unit}")
    return value


def applies(head: bytes) -> bool:
    """Whether a file starting with ``head`` is to be read in a capped child: not in such a child
    already, nor in a daemonic process (a ``multiprocessing.Pool`` worker), which may not start one."""
    return (not _in_child and head.startswith(NATIVE_MAGIC) and cap_mib() > 0
            and not multiprocessing.current_process().daemon)


def call(function: Callable[..., pa.Table], path: Path, *args) -> pa.Table:
    """``function(path, *args)`` (a module-level function returning a table or raising
    ``UnreadableFile``) run in a child whose added data memory is capped at ``cap_mib()`` and
    CPU time at ``cpu_second()``."""
    cap, seconds = cap_mib(), cpu_second()
    forkserver.set_forkserver_preload(PRELOAD)
    with tempfile.TemporaryDirectory(prefix="bigmap-read-") as folder:
        result, printed = Path(folder) / "table.arrow", Path(folder) / "stderr"
        receive, send = multiprocessing.Pipe(duplex=False)
        child = _Process(target=_child, args=(function, path, args, (cap, seconds), result, printed, send),
                         name=f"bigmap read {path.name}", daemon=True)
        child.start()
        send.close()
        try:
            message = receive.recv() if receive.poll(None) else None
        except EOFError:  # the child died before saying anything
            message = None
        except BaseException:  # interrupted: the child goes too
            child.kill()
            raise
        finally:
            receive.close()
            child.join()
        stderr = printed.read_text(errors="replace") if printed.exists() else ""
        if message is None:
            raise UnreadableFile(path, _death_reason(child.exitcode, stderr, cap, seconds))
        if stderr:
            sys.stderr.write(stderr)  # what the libraries printed (warnings), as in-process
        kind, *detail = message
        if kind == "unreadable":
            raise UnreadableFile(path, *detail)
        with pa.memory_map(str(result)) as source:
            return pa.ipc.open_file(source).read_all()


class _Popen(popen_forkserver.Popen):
    """The forkserver's ``Popen`` (Python 3.11), except that the child does not run the caller's
    main module again (as ``__mp_main__``): a script without a main guard would run twice, and
    ``bigmap`` would import its whole command line in every child."""

    def _launch(self, process_obj):
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_name", None)
        prep_data.pop("init_main_from_path", None)
        buf = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            context.reduction.dump(prep_data, buf)
            context.reduction.dump(process_obj, buf)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Process(context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _Popen(process_obj)


def _child(function, path, args, caps: tuple[int, int], result: Path, printed: Path, send) -> None:
    """In the child: cap memory (MiB) and CPU time (s), run, and send ``("ok",)`` (the table written to
    ``result``) or ``("unreadable", reason, location)``; what is printed on stderr goes to ``printed``."""
    global _in_child
    _in_child = True
    cap, seconds = caps
    with open(printed, "wb") as stderr:
        os.dup2(stderr.fileno(), 2)
    limit = _status_kib("VmData") * 1024 + cap * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.getrlimit(resource.RLIMIT_DATA)[1]))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))  # SIGXCPU, then SIGKILL
    try:
        table = function(path, *args)
        with pa.OSFile(str(result), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        message = ("ok",)
    except UnreadableFile as exc:
        reason = (_memory_reason(cap) if isinstance(exc.__cause__, MemoryError) else exc.reason)
        message = ("unreadable", reason, exc.location)
    except BaseException as exc:  # noqa: BLE001 - whatever escaped the reader wrapper, a MemoryError writing the table
        if must_propagate(exc):
            raise
        message = ("unreadable", _memory_reason(cap) if isinstance(exc, MemoryError)
                   else f"reading it failed: {failure_reason(exc)}", None)
    send.send(message)
    send.close()


def _memory_reason(cap: int) -> str:
    return (f"reading it needs more than the {cap:,} MiB of memory a read may use ({ENV}): "
            "a damaged or hostile file, or one to read with a higher cap")


def _death_reason(exitcode: int | None, stderr: str, cap: int, seconds: int) -> str:
    """Out of memory when Rust said so before aborting or the kernel's OOM killer ended the child;
    out of time on ``SIGXCPU``."""
    if exitcode == -signal.SIGXCPU:
        return (f"reading it took more than the {seconds:,} s of CPU time a read may use ({CPU_ENV}): a damaged "
                "or hostile file that a decoder loops on, or one to read with a higher limit")
    if "memory allocation of" in stderr or exitcode == -signal.SIGKILL:
        return _memory_reason(cap)
    how = f"signal {signal.Signals(-exitcode).name}" if exitcode is not None and exitcode < 0 \
        else f"exit status {exitcode}"
    last = stderr.strip().splitlines()[-1][:200] if stderr.strip() else "nothing printed"
    return f"its reader process died ({how}: {last})"


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0
