"""bigmap-assets: battery characterisation data (cycling, D2B, XAS, surveys) as Dagster assets.

For notebooks: ``bigmap_assets.read(path)`` turns any supported raw file into a pyarrow
Table whose schema metadata (``metadata_of(table)``) carries the file's metadata.
"""

from importlib.metadata import PackageNotFoundError, version

from .readers.errors import UnreadableFile
from .readers import metadata_of, read

try:
    __version__ = version("bigmap-assets")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["read", "metadata_of", "UnreadableFile", "__version__"]
