"""Write the report folder: ``warehouse/report/index.html`` and one ``<sample_id>.html`` per sample."""

from __future__ import annotations

from pathlib import Path

from .facts import Warehouse, sample_facts
from .html import index_page, sample_page


def write_reports(warehouse_dir: Path, code_version: str = "") -> list[Path]:
    """Render every sample of ``sample_overview`` and the index (temp file, then rename); returns the pages
    written, index first. Pages of samples no longer in the warehouse are removed."""
    warehouse = Warehouse(warehouse_dir)
    folder = Path(warehouse_dir) / "report"
    folder.mkdir(parents=True, exist_ok=True)
    counts, pages = {}, []
    for sample_id in warehouse.sample_ids():
        facts = sample_facts(warehouse, sample_id)
        counts[sample_id] = {"issues": len(facts.issues), "alerts": len(facts.alerts)}
        pages.append(_write(folder / f"{sample_id}.html", sample_page(facts, code_version)))
    overview = warehouse.table("sample_overview").sort_by("sample_id").to_pylist()
    index = _write(folder / "index.html", index_page(overview, counts, code_version))
    for stale in set(folder.glob("*.html")) - {index, *pages}:
        stale.unlink()
    return [index, *pages]


def _write(path: Path, text: str) -> Path:
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
