"""The ``bigmap`` command: read raw files, run the pipeline, query the warehouse.

Each topic module in this package defines ``register(subparsers)``, which adds its
subcommand(s) with ``set_defaults(func=...)``; ``func(args)`` returns the exit code.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import UnreadableFile
from ..modules import import_if_present

TOPICS = ("core", "d2b", "xas", "status")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bigmap",
        description="Battery characterisation data (cycling, D2B, XAS, surveys) into a Parquet + DuckDB warehouse.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for topic in TOPICS:
        module = import_if_present(f"{__name__}.{topic}")
        if module is not None:
            module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UnreadableFile as exc:
        print(f"bigmap: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as exc:
        print(f"bigmap: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
