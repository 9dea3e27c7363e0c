"""The thin Dagster layer: assets, checks, partitions, jobs, sensors and schedules over readers/ and science/.

Partitioned asset checks (preview) and MultiPartitionMapping (beta) are used on purpose; the tests pin
the behaviour we rely on, so Dagster's notices about them are silenced here, before any module of this
package defines one.
"""

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)
