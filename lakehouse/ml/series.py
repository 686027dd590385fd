"""Which gold columns become forecast series, at what frequency.

One declaration per kind of series; the Spark job turns each into rows
``(series_kind, unique_id, ds, y)`` and forecasts every ``unique_id`` independently.
Adding a series kind (say, hotel occupancy) is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeriesSource:
    """A family of series read from one gold mart.

    ``value`` is a SQL expression over the mart's columns; rows are averaged into buckets of
    the frequency spec (``spec``, a key of ``lakehouse.forecast.SPECS``)."""

    kind: str
    mart: str
    key: str  # column naming the series within the mart (station, device, site)
    time: str  # timestamp or date column
    value: str
    spec: str
    description: str


SERIES: tuple[SeriesSource, ...] = (
    SeriesSource("pm25", "air_quality_hourly", "station_code", "observed_at", "pm25", "hourly",
                 "PM2.5 µg/m³ per air-quality station, hourly"),
    SeriesSource("pm10", "air_quality_hourly", "station_code", "observed_at", "pm10", "hourly",
                 "PM10 µg/m³ per air-quality station, hourly"),
    SeriesSource("water_level", "water_levels", "station_code", "observed_at", "water_level_cm", "hourly",
                 "river water level (cm) per hydrology station, hourly"),
    SeriesSource("traffic_flow", "traffic_flow_15min", "device_id", "bucket_start", "vehicles_per_hour",
                 "15min", "vehicles per hour per traffic counter, 15-minute buckets"),
    SeriesSource("visitors", "tourism_daily", "site_code", "report_date", "total_visitors", "daily",
                 "visitors per tourism site per day"),
)

BY_KIND = {s.kind: s for s in SERIES}


def series_id(kind: str, key: str) -> str:
    """``pm25:QN-AQ-01``: unique across kinds, readable in plots and tables."""
    return f"{kind}:{key}"


def series_frame(spark, source: SeriesSource, table):
    """Spark rows ``(series_kind, unique_id, ds, y)`` for one source, bucketed to its
    frequency (mean of the readings in each bucket; missing buckets stay missing and are
    filled by the forecaster's regularisation)."""
    from pyspark.sql import functions as F

    from lakehouse.forecast import SPECS

    seconds = {"hourly": 3600, "15min": 900, "daily": 86400}[source.spec]
    assert SPECS[source.spec].name == source.spec
    ts = F.col(source.time).cast("timestamp")
    bucket = F.timestamp_seconds(F.floor(F.unix_timestamp(ts) / seconds) * seconds)
    return (table.where(F.col(source.key).isNotNull() & F.col(source.time).isNotNull())
            .select(F.lit(source.kind).alias("series_kind"),
                    F.concat(F.lit(f"{source.kind}:"), F.col(source.key)).alias("unique_id"),
                    bucket.alias("ds"), F.expr(source.value).cast("double").alias("y"))
            .where(F.col("y").isNotNull())
            .groupBy("series_kind", "unique_id", "ds").agg(F.avg("y").alias("y")))
