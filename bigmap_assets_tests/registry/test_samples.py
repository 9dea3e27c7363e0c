from bigmap_assets.ingest.registry import load_samples
from bigmap_assets.simulate import registry as registry_sim
from bigmap_assets.simulate.samples import all_samples

HEADER = "sample_id,provider,batch,series,chemistry,active_mass_mg,timezone\n"


def test_the_example_registry_loads_every_sample(tmp_path):
    registry_sim.generate(tmp_path)
    samples, issues = load_samples(tmp_path / "registry")
    assert issues == []
    assert set(samples) == {s.sample_id for s in all_samples()}
    cell = samples["LNO-REF-A-01"]
    assert cell["active_mass_mg"] == 9.85 and cell["timezone"] == "Europe/Berlin" and cell["series"] == "no LiTDI"


def test_bad_rows_are_left_out_with_a_reason_and_a_row_number(tmp_path):
    (tmp_path / "samples.csv").write_text(HEADER + "\n".join([
        "C1,P,B,no LiTDI,LNO,10.0,Europe/Paris",
        "C1,P,B,no LiTDI,LNO,10.0,Europe/Paris",
        "bad id,P,B,no LiTDI,LNO,10.0,Europe/Paris",
        "C2,P,B,no LiTDI,LNO,ten,Europe/Paris",
        "C3,P,B,no LiTDI,LNO,10.0,Mars/Olympus",
        "C4,P,B,no LiTDI,LNO,,UTC",
    ]) + "\n")
    samples, issues = load_samples(tmp_path)
    assert set(samples) == {"C1", "C2", "C4"} and samples["C4"]["active_mass_mg"] is None
    found = {(i.location, i.reason.split(" ")[0]) for i in issues}
    assert found == {("row 3", "duplicate"), ("row 4", "sample_id"), ("row 5", "active_mass_mg"), ("row 6", "timezone")}


def test_a_mass_outside_its_physical_range_is_blanked_and_reported_the_cell_kept(tmp_path):
    masses = ["nan", "inf", "-inf", "0", "-3.2", "1e9", "ten", "0.5", "12"]
    (tmp_path / "samples.csv").write_text(HEADER + "".join(
        f"C{i},P,B,no LiTDI,LNO,{mass},Europe/Berlin\n" for i, mass in enumerate(masses)))
    samples, issues = load_samples(tmp_path)
    assert {s: r["active_mass_mg"] for s, r in samples.items()} == {
        "C0": None, "C1": None, "C2": None, "C3": None, "C4": None, "C5": None, "C6": None, "C7": 0.5, "C8": 12.0}
    assert all(r["timezone"] == "Europe/Berlin" for r in samples.values())  # the cell keeps its timezone
    assert [(i.sample_id, i.location, i.severity, i.reason) for i in issues] == [
        ("C0", "row 2", "error", "active_mass_mg 'nan' is not a finite number: left blank"),
        ("C1", "row 3", "error", "active_mass_mg 'inf' is not a finite number: left blank"),
        ("C2", "row 4", "error", "active_mass_mg '-inf' is not a finite number: left blank"),
        ("C3", "row 5", "error", "active_mass_mg 0 is outside its physical range (above 0 to 100000 mg): left blank"),
        ("C4", "row 6", "error", "active_mass_mg -3.2 is outside its physical range (above 0 to 100000 mg): left blank"),
        ("C5", "row 7", "error", "active_mass_mg 1e9 is outside its physical range (above 0 to 100000 mg): left blank"),
        ("C6", "row 8", "error", "active_mass_mg 'ten' is not a number: left blank"),
    ]


def test_a_missing_column_or_file_is_reported(tmp_path):
    (tmp_path / "samples.csv").write_text("sample_id,provider\nC1,P\n")
    samples, issues = load_samples(tmp_path)
    assert samples == {} and "missing column(s): batch" in issues[0].reason
    assert "no samples.csv" in load_samples(tmp_path / "nowhere")[1][0].reason


def test_a_registry_file_linked_from_outside_the_data_folder_or_a_fifo_is_not_opened(tmp_path):
    import os

    registry = tmp_path / "data" / "registry"
    registry.mkdir(parents=True)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(HEADER + "C1,P,B,no LiTDI,LNO,10.0,UTC\n")
    os.symlink(outside, registry / "samples.csv")
    samples, issues = load_samples(registry)
    assert samples == {} and [i.reason for i in issues] == [
        f"a symbolic link to {outside.resolve()}, outside the data folder: not followed"]

    (registry / "samples.csv").unlink()
    (tmp_path / "data" / "shared.csv").write_text(outside.read_text())
    os.symlink("../shared.csv", registry / "samples.csv")  # inside the data folder: read
    assert set(load_samples(registry)[0]) == {"C1"}

    (registry / "samples.csv").unlink()
    os.mkfifo(registry / "samples.csv")
    assert [i.reason for i in load_samples(registry)[1]] == ["not read: a FIFO (named pipe), not a regular file"]
