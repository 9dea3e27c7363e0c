"""A deterministic slice of reader fuzzing: mutants of every kind of real file end as a table or an
``UnreadableFile``, each within 5 s (``benchmarks/fuzz_readers.py`` is the long run)."""

from __future__ import annotations

import faulthandler
import random

from bigmap_assets_tests.fuzzing import mutants, outcome, seed_files

MUTANTS_PER_FILE = 15
SEED = 16
SLOW_SECOND = 5.0


def test_mutated_real_files_give_a_table_or_an_unreadable_file(realdata, tmp_path, capfd):
    seeds = seed_files(realdata)
    assert len(seeds) >= 20
    results = []
    faulthandler.dump_traceback_later(240, exit=True)  # a hang shows where, instead of stalling the suite
    try:
        for index, seed in enumerate(seeds):
            rng = random.Random(f"{SEED}:{seed.relative_to(realdata)}")
            for number, (label, data) in enumerate(mutants(seed.read_bytes(), rng, MUTANTS_PER_FILE)):
                path = tmp_path / f"{index}-{number}{seed.suffix}"
                path.write_bytes(data)
                kind, detail, seconds = outcome(path)
                results.append((seed.name, label, kind, detail, seconds))
                path.unlink()
    finally:
        faulthandler.cancel_dump_traceback_later()
    escaped = [r for r in results if r[2] not in ("ok", "clean")]  # other exceptions, MemoryErrors
    slow = [r for r in results if r[4] > SLOW_SECOND]
    assert escaped == [] and slow == []
    assert "Exception ignored" not in capfd.readouterr().err
    kinds = {kind: sum(r[2] == kind for r in results) for kind in ("ok", "clean")}
    assert len(results) == len(seeds) * MUTANTS_PER_FILE >= 300
    assert kinds["ok"] > 50 and kinds["clean"] > 50  # both outcomes exercised
