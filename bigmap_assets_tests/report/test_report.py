"""The report per sample, from a warehouse built through Dagster: page contents, and the pages in
Debian's headless Chromium (no console error, every image loaded, a screenshot under test-output/report/)."""

from __future__ import annotations

import hashlib
import json
import shutil
from html import escape
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.alerts import AlertResource
from bigmap_assets.defs.materialize import materialize_all
from bigmap_assets.defs.resources import WarehouseResource
from bigmap_assets.report.write import write_reports
from bigmap_assets.simulate import d2b as simulate_d2b
from bigmap_assets.warehouse import catalog

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
AGEING_CELL = "LNO-LTD-A-02"  # reaches end of life at cycle 88 (data/ground_truth/cycling)
XAS_CELL = "LNO-OPXAS-01"
D2B_CELL = simulate_d2b.SAMPLE_ID
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "report"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """Registry, surveys, one ageing cell, the XAS cell (example data) and a small D2B series, materialised."""
    if not (REPO_DATA / "raw" / "cycling" / AGEING_CELL).is_dir():
        pytest.skip("example data not generated (python -m bigmap_assets.simulate --data-dir data)")
    data_dir = tmp_path_factory.mktemp("data")
    for folder in ("registry", "raw/survey", f"raw/cycling/{AGEING_CELL}", f"raw/cycling/{XAS_CELL}",
                   f"raw/xas/{XAS_CELL}"):
        shutil.copytree(REPO_DATA / folder, data_dir / folder)
    simulate_d2b.generate(data_dir, steps_per_numor=1, measurements=2)
    (data_dir / "raw" / "d2b" / D2B_CELL / "truncated.nxs").write_bytes(b"\x89HDF\r\n\x1a\ntruncated")
    instance = dg.DagsterInstance.ephemeral()
    report = materialize_all(data_dir, instance=instance)
    assert report.succeeded, report.runs
    sensor = build_defs(str(data_dir)).resolve_sensor_def("alert_sensor")  # the alerts of what was built...
    sensor(dg.build_sensor_context(instance=instance, resources={
        "warehouse": WarehouseResource(data_dir=str(data_dir)), "alerting": AlertResource(webhooks="")}))
    write_reports(data_dir / "warehouse")  # ... on the pages too
    return data_dir / "warehouse"


def test_pages_hold_the_warehouse_facts_of_each_sample(warehouse):
    report = warehouse / "report"
    con = catalog.connect(warehouse)
    samples = [r[0] for r in con.execute("SELECT sample_id FROM sample_overview ORDER BY 1").fetchall()]
    assert sorted(p.stem for p in report.glob("*.html")) == sorted([*samples, "index"])
    index = (report / "index.html").read_text()
    assert all(f'<a href="{s}.html">{s}</a>' in index for s in samples)

    ageing = (report / f"{AGEING_CELL}.html").read_text()
    eol = con.execute("SELECT cycle_count FROM cycling_soh WHERE sample_id = ? AND end_of_life",
                      [AGEING_CELL]).fetchone()[0]
    assert eol == 88 and f"End of life (80 % SoH) reached at cycle {eol} " in ageing
    assert '<img src="../plots/cycling/soh_versus_cycle.png"' in ageing
    cell_plot = f"cycling/{AGEING_CELL}_soh_versus_cycle.png"
    assert f'<img src="../plots/{cell_plot}"' in ageing
    bundle = warehouse / "archive" / AGEING_CELL / "cycling"  # the same image in the sample's archive bundle
    assert (bundle / f"{AGEING_CELL}_soh_versus_cycle.png").read_bytes() == (warehouse / "plots" / cell_plot).read_bytes()
    distributed = {d["schema:name"]: d for d in json.loads((bundle / "metadata.jsonld").read_text())["schema:distribution"]}
    entry = distributed[f"{AGEING_CELL}_soh_versus_cycle.png"]
    assert entry["schema:encodingFormat"] == "image/png"
    assert entry["schema:sha256"] == hashlib.sha256((warehouse / "plots" / cell_plot).read_bytes()).hexdigest()
    provider, series = con.execute("SELECT provider, series FROM samples WHERE sample_id = ?", [AGEING_CELL]).fetchone()
    assert f"<th>Provider</th><td>{provider}</td>" in ageing and f"<td>{series}</td>" in ageing
    named = [AGEING_CELL] + [r[0] for r in con.execute("SELECT electrode_id FROM electrodes WHERE sample_id = ?",
                                                       [AGEING_CELL]).fetchall()]
    shipments = con.execute("SELECT shipment_id FROM shipments WHERE list_has_any(sample_ids, ?::VARCHAR[])",
                            [named]).fetchall()
    assert shipments and all(f"<td>{s}</td>" in ageing for (s,) in shipments)

    d2b = (report / f"{D2B_CELL}.html").read_text()
    assert "Last comparison: 612011-612020 against 612001-612010" in d2b
    assert '<span class="flag">significant change</span>' in d2b
    assert f'<img src="../plots/d2b/{D2B_CELL}_series.png"' in d2b
    assert f'<img src="../plots/d2b/{D2B_CELL}_last_comparison.png"' in d2b
    assert f"raw/d2b/{D2B_CELL}/truncated.nxs" in d2b  # the open ingest issue

    xas = (report / f"{XAS_CELL}.html").read_text()
    assert f'<img src="../plots/xas/{XAS_CELL}_spectra_over_time.png"' in xas
    assert f'<img src="../plots/xas/{XAS_CELL}_edge_versus_potential.png"' in xas
    first = con.execute("SELECT scan_number, voltage_volt, edge_energy_ev FROM xas_echem WHERE sample_id = ? "
                        "ORDER BY scan_number LIMIT 1", [XAS_CELL]).fetchone()
    assert f"<tr><td>{first[0]}</td>" in xas and f"<td>{first[1]:.4f}</td>" in xas and f"<td>{first[2]:.2f}</td>" in xas
    answered = con.execute("SELECT count(*) FROM survey_answers a JOIN experiments e ON a.technique = e.technique "
                           "AND a.partner = e.partner WHERE a.answer IS NOT NULL AND list_contains(e.sample_ids, ?)",
                           [XAS_CELL]).fetchone()[0]
    technique, partner = con.execute("SELECT technique, partner FROM experiments WHERE list_contains(sample_ids, ?)",
                                     [XAS_CELL]).fetchone()
    assert answered > 0 and xas.count(f"<tr><td>{escape(f'{technique} ({partner})')}</td>") == answered
    alerts = dict(con.execute("SELECT rule || ' ' || sample_id, message FROM alerts").fetchall())
    soh, checkup = con.execute("SELECT soh, checkup_index FROM cycling_soh WHERE sample_id = ? AND end_of_life",
                               [AGEING_CELL]).fetchone()
    assert soh <= 0.8 and alerts[f"end_of_life {AGEING_CELL}"] == \
        f"{AGEING_CELL}: end of life reached at cycle 88 (SoH {100 * soh:.1f} % at check-up {checkup})"
    assert f"<td>end of life</td><td>{alerts[f'end_of_life {AGEING_CELL}']}</td>" in ageing
    assert f"<td>diffractogram changed</td><td>{escape(alerts[f'diffractogram_changed {D2B_CELL}'])}" in d2b
    assert f"<td>raw file refused</td><td>raw/d2b/{D2B_CELL}/truncated.nxs: " in d2b
    for page in report.glob("*.html"):  # every image a page names exists beside the report
        text = page.read_text()
        for src in text.split('<img src="')[1:]:
            assert (report / src.split('"')[0]).is_file(), (page.name, src)


def test_pages_load_in_headless_chromium_with_every_image(warehouse):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the Python package) is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} absent: install Debian's chromium")
    from bigmap_assets_tests.ops.test_ui import CHROMIUM_ARGS

    from PIL import Image

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = ["index", D2B_CELL, XAS_CELL, AGEING_CELL]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            problems = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
            images = {}
            for name in pages:
                page.goto((warehouse / "report" / f"{name}.html").as_uri(), wait_until="load")
                images[name] = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), "
                                                                "e.complete, e.naturalWidth])")
                page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
                if name == AGEING_CELL:  # the cell's SoH curve as the browser shows it
                    page.locator(f'img[src$="{AGEING_CELL}_soh_versus_cycle.png"]').screenshot(
                        path=str(SCREENSHOTS / f"{AGEING_CELL}_soh_versus_cycle.png"))
            if pages[1:]:  # the index links the sample pages
                page.goto((warehouse / "report" / "index.html").as_uri())
                page.get_by_role("link", name=D2B_CELL).click()
                page.wait_for_url(f"**/{D2B_CELL}.html")
        finally:
            browser.close()
    assert problems == []
    assert images["index"] == []
    assert [src for src, _, _ in images[D2B_CELL]] == [f"../plots/d2b/{D2B_CELL}_series.png",
                                                       f"../plots/d2b/{D2B_CELL}_last_comparison.png"]
    assert len(images[XAS_CELL]) == 2
    assert [src for src, _, _ in images[AGEING_CELL]] == [f"../plots/cycling/{AGEING_CELL}_soh_versus_cycle.png",
                                                          "../plots/cycling/soh_versus_cycle.png"]
    assert all(complete and width > 0 for name in pages for _, complete, width in images[name]), images
    curve = Image.open(SCREENSHOTS / f"{AGEING_CELL}_soh_versus_cycle.png").convert("RGB")
    assert curve.width > 300 and curve.height > 150
    assert len(curve.getcolors(maxcolors=1 << 20) or []) > 200  # drawn, not blank
    red, green, blue = np.asarray(curve).reshape(-1, 3).astype(int).T
    line = int(((red > 200) & (red - np.maximum(green, blue) > 120)).sum())  # the 80 % end-of-life line
    marker = int(((abs(red - 139) < 30) & (np.maximum(green, blue) < 40)).sum())  # the end-of-life star and line
    assert line > 100 and marker > 100, (line, marker)
    shot = Image.open(SCREENSHOTS / f"{D2B_CELL}.png").convert("RGB")
    assert shot.width == 1400 and shot.height > 1000  # the full page, longer than the window
    assert len(shot.getcolors(maxcolors=1 << 20) or []) > 1000  # plots drawn, not a blank page
