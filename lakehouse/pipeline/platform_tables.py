"""Gold tables the platform's own jobs write (forecasts, the video index): produced, not
ingested, so they have no contract in catalog/; their columns are fixed in
``lakehouse/ml/tables.py`` and ``lakehouse/video/tables.py``.

Before dbt builds, :func:`ensure_platform_tables` creates any that do not exist yet as empty
Delta tables with those columns. So dbt reads them like any other source (``ml``, ``video``),
empty until the job's first run, and their columns are written in one place only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pyarrow as pa
from deltalake import write_deltalake
from deltalake.exceptions import DeltaError

from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlatformTable:
    source: str  # the dbt source that reads it
    name: str
    schema: pa.Schema
    partition_by: tuple[str, ...]
    # The lake tables ("tier.name") the job reads to produce it: its access follows theirs
    # (lakehouse.access), as a dbt mart's follows its sources.
    reads: tuple[str, ...] = ()
    description: str = ""


def platform_tables() -> list[PlatformTable]:
    from lakehouse.ml import tables as ml
    from lakehouse.ml.series import SERIES
    from lakehouse.video import tables as video

    forecast_reads = tuple(sorted({f"gold.{s.mart}" for s in SERIES}))
    return [
        PlatformTable("ml", ml.FORECASTS, ml.FORECAST_SCHEMA, tuple(ml.PARTITION_BY), forecast_reads,
                      "Forecasts of the champion model per series, with 80/95 % intervals."),
        PlatformTable("ml", ml.BACKTESTS, ml.BACKTEST_SCHEMA, tuple(ml.PARTITION_BY), forecast_reads,
                      "Rolling-origin backtests of every candidate model per series."),
        *(PlatformTable("video", name, schema, tuple(video.PARTITION_BY), ("silver.video_segments",),
                        f"Camera video index: {name.removeprefix('video_').replace('_', ' ')}.")
          for name, schema in video.SCHEMAS.items()),
    ]


def ensure_platform_tables(settings: Settings | None = None) -> list[str]:
    """Create the platform tables that do not exist yet, empty; return their names."""
    settings = settings or get_settings()
    so = storage_options(settings)
    created = []
    for table in platform_tables():
        uri = table_uri(Tier.gold, table.name, settings)
        if delta.try_open(uri, so) is not None:
            continue
        try:
            write_deltalake(uri, table.schema.empty_table(), mode="ignore",
                            partition_by=list(table.partition_by), storage_options=so)
        except DeltaError:  # created meanwhile by the job itself: fine, it exists
            if delta.try_open(uri, so) is None:
                raise
            continue
        created.append(table.name)
    if created:
        log.info("created empty platform tables in gold: %s", created)
    return created
