"""A static HTML page per sample and an index, from the warehouse: ``facts`` gathers what the lake
holds about a sample, ``html`` renders it. No Dagster, no server: pages link the pipeline's plots
by relative paths (``warehouse/report/`` next to ``warehouse/plots/``)."""
