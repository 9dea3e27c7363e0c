"""bigmap-assets: battery characterisation data (cycling, D2B, XAS, surveys) as Dagster assets.

For notebooks: ``bigmap_assets.read(path)`` turns any supported raw file into a pyarrow
Table whose schema metadata (``metadata_of(table)``) carries the file's metadata.

The readers are imported on first use of ``read`` or ``metadata_of``, so that what needs
none of them (``bigmap sql``, the warehouse modules) starts without them.
"""

from importlib.metadata import PackageNotFoundError, version

from .ingest.errors import UnreadableFile

try:
    __version__ = version("bigmap-assets")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["read", "metadata_of", "UnreadableFile", "__version__"]


def __getattr__(name: str):
    if name in ("read", "metadata_of"):
        from . import readers

        return getattr(readers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
