"""The ``bigmap`` command: read raw files, run the pipeline, query the warehouse.

Each topic module in this package defines ``register(subparsers)``, which adds its
subcommand(s) with ``set_defaults(func=...)``; ``func(args)`` returns the exit code.

Every error reaches the user as one line on stderr, ``bigmap: error: <what>: <why>``, with exit
status 2; ``BIGMAP_DEBUG=1`` adds the traceback of unexpected errors. Python warnings of the
libraries are not shown: what a user can act on is in the output or in ``ingest_issues``.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from importlib import import_module

import duckdb

from ..ingest.allocator import keep_freed_memory
from ..ingest.errors import UnreadableFile

TOPICS = ("core", "d2b", "xas", "status", "archive")
# The topic module that defines each command: running a command imports that module only, so
# `bigmap sql` starts without the readers, pandas and the science modules. Help, and a command
# not listed here, load every topic.
TOPIC_OF = {"read": "core", "materialize": "core", "sql": "core", "issues": "core",
            "d2b": "d2b", "xas": "xas", "status": "status", "archive": "archive"}


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line: what is wrong and where help is."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command``'s topic only when known."""
    parser = OneLineParser(
        prog="bigmap",
        description="Battery characterisation data (cycling, D2B, XAS, surveys) into a Parquet + DuckDB warehouse.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for topic in [TOPIC_OF[command]] if command in TOPIC_OF else TOPICS:
        import_module(f"{__name__}.{topic}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    keep_freed_memory()  # this process is ours: numpy temporaries reuse freed memory (ingest/allocator.py)
    warnings.simplefilter("ignore")
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(next((word for word in argv if not word.startswith("-")), None)).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place where any error becomes a message
        print(f"bigmap: error: {error_message(exc)}", file=sys.stderr)
        if os.environ.get("BIGMAP_DEBUG") and not isinstance(exc, EXPECTED_ERRORS):
            traceback.print_exc()
        return 2


EXPECTED_ERRORS = (UnreadableFile, ValueError, OSError, duckdb.Error)


def error_message(exc: Exception) -> str:
    """One line saying what failed and why; unexpected errors name their type."""
    if isinstance(exc, duckdb.Error):
        return "query failed: " + first_line(str(exc))
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or first_line(str(exc))}"
    if isinstance(exc, EXPECTED_ERRORS):
        return first_line(str(exc))
    return f"unexpected {type(exc).__name__}: {first_line(str(exc))} (BIGMAP_DEBUG=1 shows where)"


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no reason given"
