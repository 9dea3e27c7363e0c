"""The warehouse: Parquet in hive folders (lake), DuckDB views over it (catalog), provenance."""
