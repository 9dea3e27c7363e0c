"""The Dagster UI in a real browser: `dagster dev` on the project, driven by Debian's headless Chromium.

Screenshots of every page visited go to ``test-output/ui/``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.materialize import materialize_all
from bigmap_assets.simulate import d2b as simulate_d2b
from bigmap_assets.simulate import xas as simulate_xas
from bigmap_assets.warehouse import catalog

from .conftest import ProcessGroup, copy_cells, free_port, settle, wait_for_http, write_instance_yaml

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the Python package) is not installed")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "ui"
CELLS = ["LNO-REF-A-01", "LNO-LTD-B-01"]
BAD_FILE = f"raw/cycling/{CELLS[1]}/aborted.mpt"
UI_WAIT_MS = 60_000

pytestmark = pytest.mark.ops


@pytest.fixture()
def dagster_dev(example_data, tmp_path, monkeypatch):
    """``dagster dev`` on the project's code location over a small data folder, in its own process group.

    The data is materialised once beforehand (as ``bigmap materialize`` would), so summary
    plots exist; one cell holds a file that cannot be read; the operando D2B and XAS cells
    (with their cycling) are the only samples of those techniques.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} absent: install Debian's chromium")
    data_dir = copy_cells(example_data, tmp_path / "data", CELLS)
    simulate_d2b.generate(data_dir, steps_per_numor=2, measurements=2)
    simulate_xas.generate(data_dir, seed=0)
    settle(data_dir)
    (data_dir / BAD_FILE).write_text("EC-Lab ASCII FILE\nthe run was aborted before the header was written\n")
    home = write_instance_yaml(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert materialize_all(data_dir).succeeded

    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "BIGMAP_DATA_DIR": str(data_dir)}
    dagster = Path(sys.executable).with_name("dagster")
    server = ProcessGroup.start([str(dagster), "dev", "-m", "bigmap_assets.definitions", "-h", "127.0.0.1", "-p", str(port)],
                               tmp_path / "dagster-dev.log", env, tmp_path)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", server)
        yield f"http://127.0.0.1:{port}", data_dir, home
    finally:
        leftovers = server.stop()
        assert server.members() == [], f"processes left after stopping dagster dev: {server.members()}"
        assert leftovers == [], f"dagster dev needed SIGKILL for {leftovers}"


def _shot(page, name: str) -> None:
    _dismiss_welcome(page)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _dismiss_welcome(page) -> None:
    """The UI opens a 'Join the Dagster community' dialog once, a few seconds after the first page."""
    skip = page.get_by_role("button", name="Skip")
    if skip.is_visible():
        skip.click()


def test_ui_shows_groups_partitions_only_where_data_exist_lineage_a_ui_launched_run_plots_and_failures(dagster_dev):
    base, data_dir, home = dagster_dev
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    groups = sorted({build_defs(str(data_dir)).resolve_asset_graph().get(k).group_name
                     for k in build_defs(str(data_dir)).resolve_asset_graph().get_all_asset_keys()})
    reason = catalog.connect(data_dir / "warehouse").execute(
        "SELECT reason FROM ingest_issues WHERE path = ?", [BAD_FILE]).fetchone()[0]

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(UI_WAIT_MS)
        page.add_locator_handler(page.get_by_text("Join the Dagster community"),
                                 lambda _: page.get_by_role("button", name="Skip").click())
        try:
            # 1. the asset graph, with every asset group
            page.goto(f"{base}/asset-groups")
            for group in groups:
                page.get_by_text(group, exact=True).first.wait_for()
            try:  # let the welcome dialog open and go now, not while a menu is open later
                page.get_by_text("Join the Dagster community").wait_for(timeout=10_000)
                page.get_by_role("button", name="Skip").click()
            except sync_api.TimeoutError:
                pass
            _shot(page, "1-asset-graph")

            # 2. the D2B and XAS assets list only their own sample, built: no missing partition
            for asset, sample in (("d2b_numors", simulate_d2b.SAMPLE_ID), ("d2b_comparisons", simulate_d2b.SAMPLE_ID),
                                  ("xas_scans", simulate_xas.SAMPLE_ID), ("xas_echem", simulate_xas.SAMPLE_ID)):
                page.goto(f"{base}/assets/{asset}?view=partitions")
                page.get_by_text(sample, exact=True).first.wait_for()
                page.get_by_text("Materialized (1)", exact=True).wait_for()
                assert page.get_by_text("Missing (0)", exact=True).is_visible()
                assert not page.get_by_text(CELLS[0], exact=True).count()  # a cycling-only cell is not listed
            _shot(page, "2-xas-partitions")

            # 3. the lineage of the XAS alignment: its cycling input from the same sample
            # (its inputs only: the archive bundle and the report that follow it would shrink the graph)
            page.goto(f"{base}/assets/xas_echem?view=lineage&lineageScope=upstream")
            page.get_by_text("cycling_timeseries", exact=True).first.wait_for()
            page.get_by_text(re.compile(r"^Loading")).first.wait_for(state="hidden")  # the nodes' latest events
            node = page.get_by_text("xas_echem", exact=True).last.bounding_box()
            for _ in range(6):  # zoom in until the nodes show their partition fill
                if page.get_by_text("100% filled", exact=True).count():
                    break
                page.mouse.move(node["x"] + node["width"] / 2, node["y"] + node["height"] / 2)
                page.mouse.wheel(0, -300)
                page.wait_for_timeout(500)
            page.get_by_text("100% filled", exact=True).first.wait_for()
            assert page.get_by_text("100% filled", exact=True).count() == 4  # cycling_timeseries and the 3 XAS assets
            _shot(page, "3-lineage")

            # 4. a partitioned asset: sample and technique partitions
            page.goto(f"{base}/assets/cycling_timeseries?view=partitions")
            for key in (*CELLS, "cycling"):
                page.get_by_text(key, exact=True).first.wait_for()
            page.get_by_placeholder("Filter by sample_id…").wait_for()
            page.get_by_placeholder("Filter by technique…").wait_for()
            _shot(page, "4-partitions")

            # 5. launch one partition from the UI and see it succeed
            page.get_by_role("button", name="Materialize…").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("Select a partition or create one").first.click()
            page.get_by_role("menuitem", name=CELLS[1]).click()
            dialog.get_by_role("button", name="All").nth(1).click()  # the technique dimension (cycling only)
            _shot(page, "5-launch-dialog")
            started = time.time()
            dialog.get_by_role("button", name="Launch 1 run").click()
            run_id = _wait_for_ui_run(home, f"{CELLS[1]}|cycling", started)
            page.goto(f"{base}/runs/{run_id}")
            page.get_by_text("Success", exact=True).first.wait_for()
            _shot(page, "6-run-success")

            # 6. the partition's metadata: table preview and the failing file's reason
            page.goto(f"{base}/assets/cycling_timeseries")  # the latest materialisation: the UI's run
            page.get_by_text(BAD_FILE).first.wait_for()  # the `issues` metadata table
            page.get_by_text(reason[:30]).first.scroll_into_view_if_needed()
            _shot(page, "7-failure-reason")
            preview = page.locator("tr", has=page.get_by_text("preview", exact=True))
            show = preview.get_by_text("[Show Markdown]")
            if show.count():  # long markdown opens in a dialog
                show.click()
            scope = page.get_by_role("dialog") if show.count() else preview
            scope.get_by_text("voltage_volt", exact=True).first.wait_for()  # the preview's header
            _shot(page, "8-table-preview")
            if show.count():
                page.get_by_role("button", name="Close").click()

            # 7. a plot in the summary asset's metadata
            page.goto(f"{base}/assets/cycling_series")
            row = page.locator("tr", has=page.get_by_text("soh_versus_cycle", exact=True))
            row.get_by_text("[Show Markdown]").click()  # large markdown opens in a dialog
            plot = page.locator("img[src^='data:image/png']").first
            plot.wait_for()
            assert plot.evaluate("img => img.naturalWidth") > 100
            _shot(page, "9-plot")
        except Exception:
            _shot(page, "failed-here")
            raise
        finally:
            browser.close()


def _wait_for_ui_run(home: Path, partition: str, since: float, timeout_second: float = 120.0) -> str:
    """The run the UI launched for ``partition``, once it has succeeded."""
    deadline = time.monotonic() + timeout_second
    with dg.DagsterInstance.from_config(str(home)) as instance:
        while time.monotonic() < deadline:
            records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": partition}), limit=1)
            if records and records[0].create_timestamp.timestamp() >= since - 1:
                run = records[0].dagster_run
                if run.status == dg.DagsterRunStatus.SUCCESS:
                    return run.run_id
                assert run.status not in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED), run.status
            time.sleep(1)
    raise TimeoutError(f"no successful run of {partition} within {timeout_second} s")
