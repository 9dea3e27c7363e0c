"""Where the data folder and the lake live. The data folder: ``$BIGMAP_DATA_DIR``, else ``./data``.
The lake: one setting, empty for the local folder (the default) or ``s3://bucket/prefix``.

A local folder holds the hive Parquet lake (``lake.Lake``, embedded, rename-atomic). An
``s3://`` location holds one Delta Lake table per warehouse table (``delta_lake.DeltaLake``),
whose commits are atomic on object storage. The S3 endpoint and credentials come from the
environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_REGION``; ``AWS_ALLOW_HTTP=true`` for a plain-http endpoint), never from the setting.
"""

from __future__ import annotations

import os
from pathlib import Path

LAKE_ENV = "BIGMAP_LAKE"
REMOTE_SCHEMES = ("s3://",)


def default_data_dir() -> str:
    """``$BIGMAP_DATA_DIR``, else ``data/`` in the working directory (the example set in a checkout)."""
    return os.environ.get("BIGMAP_DATA_DIR") or str(Path.cwd() / "data")


def lake_location(data_dir: str | Path, setting: str = "") -> str:
    """The lake's location: ``setting``, else ``$BIGMAP_LAKE``, else ``<data_dir>/warehouse/lake``.

    A local lake is always ``<data_dir>/warehouse/lake`` (beside its catalog), so a setting is
    either empty or an object-storage URI.
    """
    location = setting or os.environ.get(LAKE_ENV, "")
    if location and not is_remote(location):
        raise ValueError(f"lake location {location!r} (${LAKE_ENV} or the warehouse resource's lake_location): "
                         "leave it empty for <data-dir>/warehouse/lake, "
                         f"or give {' or '.join(s + 'bucket/prefix' for s in REMOTE_SCHEMES)}")
    return location or str(Path(data_dir).resolve() / "warehouse" / "lake")


def is_remote(location: str) -> bool:
    return location.startswith(REMOTE_SCHEMES)


def open_lake(location: str):
    """The lake at ``location``: ``Lake`` for a local folder, ``DeltaLake`` for object storage."""
    if is_remote(location):
        from .delta_lake import DeltaLake  # deltalake is imported only when a remote lake is used
        return DeltaLake(location)
    from .lake import Lake
    return Lake(location)


def s3_options() -> dict[str, str]:
    """delta-rs storage options from the environment (only the variables that are set)."""
    names = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
             "AWS_ALLOW_HTTP")
    return {name: os.environ[name] for name in names if os.environ.get(name)}
