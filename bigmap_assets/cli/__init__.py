"""The ``bigmap`` command."""


def main(argv=None) -> int:
    raise SystemExit("bigmap: not wired yet")
