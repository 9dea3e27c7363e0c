"""The example data set as a whole: deterministic, and what the repository ships."""

import filecmp
from pathlib import Path

from bigmap_assets.simulate.__main__ import main

REPO_DATA = Path(__file__).resolve().parents[2] / "data"


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
                  and p.relative_to(root).parts[0] in ("raw", "registry", "ground_truth"))


def test_regenerating_gives_the_committed_example_data_byte_for_byte(tmp_path):
    assert main(["--data-dir", str(tmp_path)]) == 0
    generated = _files(tmp_path)
    assert generated == _files(REPO_DATA)
    differing = [f for f in generated if not filecmp.cmp(tmp_path / f, REPO_DATA / f, shallow=False)]
    assert differing == []
