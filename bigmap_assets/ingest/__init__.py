"""From raw files on disk to what a partition ingests, without Dagster.

- ``raw_tree``: walking ``raw/`` without leaving the data folder, refusing what is not data;
- ``admission``: the sample folders of a technique and the files of one partition, read or explained;
- ``cycling``: a cell's cycler files into ``cycling_timeseries`` (streamed when large, appended when grown);
- ``registry``: the sample registry's tables, validated;
- ``watch``: what changed since the last look (the sensor's logic);
- ``accounting``: every raw file ingested or explained;
- ``allocator``: how the project's own processes let numpy reuse freed memory.
"""
