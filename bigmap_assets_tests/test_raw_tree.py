"""Walking raw/: links out of the data folder, loops, FIFOs and refused names never read, always reported."""

from __future__ import annotations

import os
from pathlib import Path

from bigmap_assets.ingest.accounting import unaccounted_files, unregistered_samples
from bigmap_assets.ingest.admission import NO_SAMPLE, inventory_table, issues_table, layout_issues, sample_files, sample_folders
from bigmap_assets.ingest.raw_tree import containment, entries_on_disk, not_a_regular_file, walk
from bigmap_assets.warehouse.lake import Lake


def _file(root: Path, rel: str, text: str = "data\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _hostile(tmp_path: Path) -> Path:
    """A data folder with one good cell and everything the walker must refuse, plus a secret outside it."""
    data = tmp_path / "data"
    outside = _file(tmp_path, "elsewhere/secret.mpt", "secret\n").parent
    _file(data, "raw/cycling/C1/a.mpt")
    _file(data, "raw/cycling/C1/sub/b.mpt")
    _file(data, "raw/cycling/C1/.DS_Store")
    _file(data, "raw/cycling/C1/a.mpt~")
    os.symlink(outside / "secret.mpt", data / "raw/cycling/C1/passwd.mpt")
    os.symlink("a.mpt", data / "raw/cycling/C1/alias.mpt")  # inside the data folder: followed
    os.symlink("..", data / "raw/cycling/C1/sub/up")  # back to a folder already read
    os.symlink("loop", data / "raw/cycling/C1/loop")
    os.symlink("gone.mpt", data / "raw/cycling/C1/dangling.mpt")
    os.mkfifo(data / "raw/cycling/C1/pipe.mpt")
    for name in ("bad id;drop", "cell 7 (copy)", "LNO-ÜNI-01", "...", NO_SAMPLE):
        _file(data, f"raw/cycling/{name}/x.mpt")
    _file(data, "raw/cycling/stray.mpt")
    os.symlink(outside, data / "raw/cycling/EVIL")
    os.symlink(data / "raw/cycling/C1", data / "raw/cycling/C1-alias")  # a sample folder reached by a link inside
    _file(data, "raw/notes.txt")
    _file(data, "raw/misc/m.txt")
    os.mkfifo(data / "raw/xas.fifo")
    return data


def test_walk_reads_regular_files_and_links_inside_only(tmp_path):
    data = _hostile(tmp_path)
    listing = walk(data / "raw/cycling/C1", containment(data))
    assert [p.name for p in listing.files] == ["a.mpt", "alias.mpt", "b.mpt"]
    refused = {p.path.name: (p.severity, p.reason) for p in listing.refused}
    assert refused == {
        ".DS_Store": ("warning", "not read: a hidden file (name starts with '.')"),
        "a.mpt~": ("warning", "not read: an editor backup file (name ends with '~')"),
        "dangling.mpt": ("error", "a broken symbolic link (to gone.mpt): not followed"),
        "loop": ("error", "a symbolic link loop: not followed"),
        "passwd.mpt": ("error", f"a symbolic link to {tmp_path.resolve()}/elsewhere/secret.mpt, outside the data "
                                "folder: not followed"),
        "pipe.mpt": ("error", "not read: a FIFO (named pipe), not a regular file"),
        "up": ("error", "a symbolic link to a folder read another way (a loop, or the same files twice): "
                        "not followed"),
    }


def test_sample_folders_refuse_bad_names_links_out_and_stray_files(tmp_path):
    data = _hostile(tmp_path)
    ids, issues = sample_folders(data, "cycling")
    assert ids == ["C1", "C1-alias"]
    reasons = {i.path: (i.severity, i.reason) for i in issues}
    assert set(reasons) == {f"raw/cycling/{n}" for n in
                            ("bad id;drop", "cell 7 (copy)", "LNO-ÜNI-01", "...", NO_SAMPLE, "stray.mpt", "EVIL")}
    assert all(severity == "error" for severity, _ in reasons.values())
    assert reasons["raw/cycling/bad id;drop"][1] == ("sample folder refused: 'bad id;drop' is not a sample ID: use "
                                                     "letters, digits, '.', '_' and '-' only; its 1 file(s) are not read")
    assert reasons["raw/cycling/..."][1].startswith("sample folder refused: '...' is a hidden folder")
    assert reasons[f"raw/cycling/{NO_SAMPLE}"][1].startswith(f"sample folder refused: '{NO_SAMPLE}' is a reserved name")
    assert reasons["raw/cycling/EVIL"][1].endswith("outside the data folder: not followed")
    assert reasons["raw/cycling/stray.mpt"][1].startswith("not in a sample folder")
    layout = layout_issues(data)
    assert layout["cycling"] == issues
    assert {i.path: i.reason.split(":")[0] for i in layout["raw"]} == {
        "raw/misc": "not a technique folder (cycling, d2b, xas, survey)",
        "raw/notes.txt": "not in a technique folder",
        "raw/xas.fifo": "not read"}


def test_accounting_finds_what_is_neither_ingested_nor_explained(tmp_path):
    data = _hostile(tmp_path)
    lake = Lake(data / "warehouse" / "lake")
    on_disk = {str(p.relative_to(data)) for p in entries_on_disk(data / "raw", containment(data))}
    assert {"raw/cycling/EVIL", "raw/cycling/bad id;drop/x.mpt", "raw/cycling/C1-alias/a.mpt"} <= on_disk
    assert not any("secret" in p for p in on_disk)  # the link out is an entry, never entered
    assert sorted(unaccounted_files(data)) == sorted(on_disk)  # nothing recorded yet

    for sample_id in ("C1", "C1-alias"):  # as the technique runs record them
        files, issues = sample_files(data, "cycling", sample_id)
        rows = [{"path": str(p.relative_to(data)), "technique": "cycling", "status": "ok"} for p in files]
        lake.write("raw_files", inventory_table(rows), {"technique": "cycling", "sample_id": sample_id})
        lake.write("ingest_issues", issues_table(issues), {"technique": "cycling", "sample_id": sample_id})
    outside_samples = {"raw/cycling/bad id;drop/x.mpt", "raw/cycling/cell 7 (copy)/x.mpt", "raw/cycling/LNO-ÜNI-01/x.mpt",
                       "raw/cycling/.../x.mpt", f"raw/cycling/{NO_SAMPLE}/x.mpt", "raw/cycling/stray.mpt",
                       "raw/cycling/EVIL", "raw/notes.txt", "raw/misc/m.txt", "raw/xas.fifo"}
    assert set(unaccounted_files(data)) == outside_samples
    for technique, issues in layout_issues(data).items():  # as raw_folder_layout records them
        lake.write("ingest_issues", issues_table(issues), {"technique": technique, "sample_id": NO_SAMPLE})
    assert unaccounted_files(data) == []
    (data / "raw/cycling/C1/new.mpt").write_text("arrived after the run\n")
    assert unaccounted_files(data) == ["raw/cycling/C1/new.mpt", "raw/cycling/C1-alias/new.mpt"]  # two samples


def test_unregistered_samples_are_the_folders_without_a_registry_row(tmp_path):
    data = _hostile(tmp_path)
    _file(data, "registry/samples.csv", "sample_id,provider,batch,series,chemistry,active_mass_mg,timezone\n"
                                        "C1,P,B,no LiTDI,LNO,10,Europe/Berlin\n")
    assert unregistered_samples(data) == [("C1-alias", "cycling")]


def test_not_a_regular_file_names_what_it_is(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    os.symlink("loop", tmp_path / "loop")
    (tmp_path / "file").write_text("x")
    assert not_a_regular_file(tmp_path / "pipe") == "not a regular file: a FIFO (named pipe)"
    assert not_a_regular_file(tmp_path) == "not a regular file: a folder"
    assert not_a_regular_file(tmp_path / "loop") == "a symbolic link loop"
    assert not_a_regular_file(tmp_path / "missing") == "no such file"
    assert not_a_regular_file(tmp_path / "file") is None


def test_the_survey_folder_refuses_links_out_fifos_and_lock_files(tmp_path):
    from bigmap_assets.defs.survey import read_forms

    data = tmp_path / "data"
    secret = _file(tmp_path, "elsewhere/passwords.csv", "user,password\n")
    _file(data, "raw/survey/~$form.xlsx", "lock")
    os.symlink(secret, data / "raw/survey/form.csv")
    os.mkfifo(data / "raw/survey/pipe.xlsx")
    files = read_forms(data)
    assert files.inventory == [] and files.files == []
    assert {(i.path, i.severity, i.reason) for i in files.issues} == {
        ("raw/survey/~$form.xlsx", "warning", "not read: an office lock file (name starts with '~$')"),
        ("raw/survey/form.csv", "error", f"a symbolic link to {secret.resolve()}, outside the data folder: not followed"),
        ("raw/survey/pipe.xlsx", "error", "not read: a FIFO (named pipe), not a regular file")}
