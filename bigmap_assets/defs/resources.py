"""The one resource every asset uses: where the data folder is, and its warehouse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ..ingest.cycling import LARGE_FILE_BYTES
from ..warehouse import catalog, storage
from ..warehouse.lake import Lake

class WarehouseResource(dg.ConfigurableResource):
    """A data folder: ``raw/`` and ``registry/`` in, ``warehouse/`` (lake, catalog, plots, exports) out.

    ``lake_location`` is where the lake lives: empty for ``<data_dir>/warehouse/lake`` (or
    ``$BIGMAP_LAKE`` when set), a local folder, or ``s3://bucket/prefix`` (Delta Lake tables;
    endpoint and credentials from the ``AWS_*`` environment, see ``warehouse/storage.py``).
    """

    data_dir: str
    lake_location: str = ""
    settle_seconds: float = 5.0  # a raw file modified more recently than this is still being written
    large_file_mb: float = LARGE_FILE_BYTES / 2**20  # cycler files (text, .mpr) larger are streamed: bounded memory

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def registry_dir(self) -> Path:
        return self.root / "registry"

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    @property
    def lake(self) -> Lake:
        """The lake (``Lake``, or ``DeltaLake`` on object storage: the same methods)."""
        return storage.open_lake(storage.lake_location(self.root, self.lake_location))

    def output_dir(self, kind: str, *parts: str) -> Path:
        """``warehouse/<kind>/<parts...>`` (plots, exports), created on demand."""
        folder = self.warehouse_dir.joinpath(kind, *parts)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def publish_catalog(self, *, gather: bool = False) -> Path | None:
        """Rebuild the DuckDB catalog of views (temp file, then rename); None for a lake on object storage,
        read through ``catalog.connect`` (DuckDB over the Delta tables' Arrow datasets) instead.
        ``gather``: copy small tables of many parts into one file each (``catalog.gather_small_tables``)."""
        if storage.is_remote(storage.lake_location(self.root, self.lake_location)):
            return None
        return catalog.refresh(self.warehouse_dir, gather=gather)
