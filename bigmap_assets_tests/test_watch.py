"""The sensor's file logic, one test per cursor transition."""

import os
import time

from bigmap_assets.ingest import watch


def _drop(data_dir, rel, content=b"data", age_second=60.0):
    path = data_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    then = time.time() - age_second
    os.utime(path, (then, then))
    return path


def test_first_look_marks_every_partition_with_files(tmp_path):
    _drop(tmp_path, "raw/cycling/S1/a.mpt")
    _drop(tmp_path, "raw/xas/S2/scan.txt")
    found = watch.scan(tmp_path, {})
    assert found.changed_partitions == {("cycling", "S1"), ("xas", "S2")}
    assert set(found.state) == {"raw/cycling/S1/a.mpt", "raw/xas/S2/scan.txt"}


def test_nothing_new_marks_nothing(tmp_path):
    _drop(tmp_path, "raw/cycling/S1/a.mpt")
    state = watch.scan(tmp_path, {}).state
    again = watch.scan(tmp_path, state)
    assert not again.anything_changed and again.state == state


def test_a_touched_file_with_the_same_content_is_not_a_change(tmp_path):
    path = _drop(tmp_path, "raw/cycling/S1/a.mpt")
    state = watch.scan(tmp_path, {}).state
    os.utime(path, (time.time() - 30, time.time() - 30))
    found = watch.scan(tmp_path, state)
    assert not found.anything_changed
    assert found.state["raw/cycling/S1/a.mpt"][1] == path.stat().st_mtime_ns


def test_changed_content_marks_only_its_partition(tmp_path):
    _drop(tmp_path, "raw/cycling/S1/a.mpt")
    _drop(tmp_path, "raw/cycling/S2/b.mpt")
    state = watch.scan(tmp_path, {}).state
    _drop(tmp_path, "raw/cycling/S2/b.mpt", b"more data", age_second=30)
    assert watch.scan(tmp_path, state).changed_partitions == {("cycling", "S2")}


def test_a_file_still_being_written_waits_until_it_settles(tmp_path):
    _drop(tmp_path, "raw/cycling/S1/growing.mpt", age_second=0)
    found = watch.scan(tmp_path, {}, settle_seconds=5)
    assert not found.anything_changed and found.unsettled == ["raw/cycling/S1/growing.mpt"]
    later = watch.scan(tmp_path, found.state, settle_seconds=5, now=time.time() + 10)
    assert later.changed_partitions == {("cycling", "S1")}


def test_a_removed_file_marks_its_partition(tmp_path):
    path = _drop(tmp_path, "raw/d2b/S1/000001.nxs")
    state = watch.scan(tmp_path, {}).state
    path.unlink()
    found = watch.scan(tmp_path, state)
    assert found.changed_partitions == {("d2b", "S1")} and found.state == {}


def test_registry_and_surveys_are_watched_and_bad_folders_refused(tmp_path):
    _drop(tmp_path, "registry/samples.csv")
    _drop(tmp_path, "raw/survey/form.xlsx")
    _drop(tmp_path, "raw/cycling/bad id!/a.mpt")
    _drop(tmp_path, "raw/stray.txt")
    found = watch.scan(tmp_path, {})
    assert found.changed_registry and found.changed_surveys and not found.changed_partitions
    reasons = {i.path: i.reason for i in found.refused}
    assert reasons["raw/cycling/bad id!"].startswith("sample folder refused: 'bad id!' is not a sample ID")
    assert reasons["raw/cycling/bad id!"].endswith("its 1 file(s) are not read")
    assert reasons["raw/stray.txt"].startswith("not in a technique folder")
