"""Walking a folder of raw files without leaving the data folder, refusing what is not data. No Dagster.

A symbolic link is followed only when its target lies inside the data folder (or inside its
``raw/`` or ``registry/``, either of which may itself be a link to a disk elsewhere); a link
out, a broken link or a link loop is refused. Only regular files are data: a FIFO, socket or
device is refused (opening a FIFO would wait forever for a writer). Hidden files, office lock
files, editor backups and temporary files are not data either. Every refusal says why;
nothing is skipped in silence.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Refused:
    """Something under a walked folder that is not read, and why."""

    path: Path  # as found (a link is named, never its target)
    reason: str
    severity: str = ERROR


@dataclass
class Listing:
    files: list[Path] = field(default_factory=list)  # regular files (or links to them inside the data folder)
    refused: list[Refused] = field(default_factory=list)


def containment(data_dir: str | Path) -> tuple[Path, ...]:
    """The resolved folders a link may point into: the data folder, its ``raw/`` and its ``registry/``."""
    data_dir = Path(data_dir)
    return tuple(dict.fromkeys(Path(os.path.realpath(data_dir / p)) for p in ("", "raw", "registry")))


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words (``stat`` mode)."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def not_a_regular_file(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a file (missing, a folder, a FIFO...), or None for a regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return "a symbolic link loop" if exc.errno == errno.ELOOP else "no such file"
    return None if stat.S_ISREG(mode) else f"not a regular file: {kind_of(mode)}"


def not_data(name: str, what: str = "file") -> str | None:
    """Why a ``what`` (file or folder) of this name is not raw data, in words, or None."""
    if name.startswith("~$"):
        return f"an office lock {what} (name starts with '~$')"
    if name.startswith("."):
        return f"a hidden {what} (name starts with '.')"
    if name.endswith("~"):
        return f"an editor backup {what} (name ends with '~')"
    if name.endswith((".tmp", ".part")):
        return f"a temporary {what} (a copy or download in progress)"
    return None


def follow(path: Path, inside: tuple[Path, ...]) -> tuple[Path | None, str | None]:
    """``(resolved target, None)`` of a link inside the data folder, else ``(None, why it is refused)``."""
    try:
        target = Path(os.path.realpath(path, strict=True))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "a symbolic link loop: not followed"
        return None, f"a broken symbolic link (to {os.readlink(path)}): not followed"
    if not any(target == root or target.is_relative_to(root) for root in inside):
        return None, f"a symbolic link to {target}, outside the data folder: not followed"
    return target, None


def files_below(folder: Path) -> int:
    """How many entries that are not folders lie below ``folder`` (links not followed): for messages."""
    return sum(len(files) + sum(os.path.islink(Path(top, d)) for d in dirs)
               for top, dirs, files in os.walk(folder))


def entry_problem(path: Path, inside: tuple[Path, ...]) -> tuple[int | None, str | None]:
    """``(stat mode of what the entry is or points to, None)``, or ``(None, why it is refused)``."""
    if path.is_symlink():
        target, problem = follow(path, inside)
        if problem:
            return None, problem
        path = target
    try:
        return os.stat(path).st_mode, None
    except OSError as exc:
        return None, f"cannot be read: {exc.strerror}"


def walk(folder: str | Path, inside: tuple[Path, ...]) -> Listing:
    """Every raw data file under ``folder`` (recursively, in name order), and what is refused there.

    A link to a folder elsewhere in the data folder is walked once; a link to a folder under
    ``folder`` itself, or to one already walked, is refused (a loop, or a second way to the
    same files that would read them twice).
    """
    listing = Listing()
    own = Path(os.path.realpath(folder))
    _walk(Path(folder), inside, listing, {own}, own)
    return listing


def _walk(folder: Path, inside: tuple[Path, ...], listing: Listing, visited: set[Path], own: Path) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        listing.refused.append(Refused(folder, f"folder cannot be listed: {exc.strerror}"))
        return
    for entry in entries:
        path = Path(entry.path)
        mode, problem = entry_problem(path, inside)
        if problem is None and not_data(entry.name):
            what = "folder" if stat.S_ISDIR(mode) else "file"
            listing.refused.append(Refused(path, f"not read: {not_data(entry.name, what)}", WARNING))
        elif problem is not None:
            listing.refused.append(Refused(path, problem))
        elif stat.S_ISDIR(mode):
            real = Path(os.path.realpath(path))
            if entry.is_symlink() and (real in visited or real.is_relative_to(own)):
                listing.refused.append(Refused(path, "a symbolic link to a folder read another way (a loop, or "
                                                     "the same files twice): not followed"))
                continue
            visited.add(real)
            _walk(path, inside, listing, visited, own)
        elif stat.S_ISREG(mode):
            listing.files.append(path)
        else:
            listing.refused.append(Refused(path, f"not read: {kind_of(mode)}, not a regular file"))


def entries_on_disk(folder: str | Path, inside: tuple[Path, ...]) -> list[Path]:
    """Everything under ``folder`` that is not a folder (files, links, FIFOs...): the accounting's view.

    Deliberately simpler than ``walk`` (no name rules): links to folders inside the data folder
    are entered unless they lead back to a folder on the way down (a loop); any other link is
    an entry itself.
    """
    found: list[Path] = []

    def visit(top: Path, ancestors: frozenset[Path]) -> None:
        try:
            entries = sorted(os.scandir(top), key=lambda e: e.name)
        except OSError:
            found.append(top)
            return
        for entry in entries:
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                visit(path, ancestors | {Path(os.path.realpath(path))})
            elif entry.is_symlink():
                target, problem = follow(path, inside)
                if problem is None and target.is_dir() and target not in ancestors:
                    visit(path, ancestors | {target})
                else:
                    found.append(path)
            else:
                found.append(path)

    visit(Path(folder), frozenset({Path(os.path.realpath(folder))}))
    return found
