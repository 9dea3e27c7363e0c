"""Regenerate the example data set: ``python -m bigmap_assets.simulate [--data-dir data] [--seed 0]``.

Writes raw files under ``DIR/raw/``, the registry under ``DIR/registry/`` and the ground
truth the tests check under ``DIR/ground_truth/``. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
from importlib import import_module
from pathlib import Path

GENERATORS = ("registry", "cycling", "d2b", "xas", "survey")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bigmap_assets.simulate", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=GENERATORS, action="append", help="run only these generators")
    args = parser.parse_args(argv)
    for name in args.only or GENERATORS:
        module = import_module(f"{__package__}.{name}")
        kwargs = {} if name == "registry" else {"seed": args.seed}
        module.generate(args.data_dir, **kwargs)
        print(f"generated {name} example data under {args.data_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
