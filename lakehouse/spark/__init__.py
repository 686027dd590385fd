"""Spark on the lake: a session factory and Delta reads/writes that work with or without
the Delta Lake jar (without it, through the delta-rs backed ``ioc_delta`` data source).

    from lakehouse.spark import get_spark, read_table, write_table

    spark = get_spark()
    df = read_table(spark, "silver", "air_quality", where="day >= '2025-06-01'")
    write_table(df, "gold", "air_quality_daily", mode="overwrite_partition",
                predicate="day = '2025-06-01'", batch_id="aq-2025-06-01")
"""

from lakehouse.spark.delta_io import (
    SparkWriteResult,
    read_delta,
    read_table,
    write_delta,
    write_table,
)
from lakehouse.spark.delta_source import DeltaDataSource
from lakehouse.spark.errors import (
    DeltaBridgeError,
    DeltaConflictError,
    DeltaDataError,
    DeltaSchemaError,
    DeltaUnsupportedError,
)
from lakehouse.spark.session import (
    delta_format,
    ensure_delta_format,
    get_spark,
    pushdown_is_safe,
    spark_conf,
    stop_spark,
    uses_delta_jar,
)

__all__ = [
    "DeltaBridgeError",
    "DeltaConflictError",
    "DeltaDataError",
    "DeltaDataSource",
    "DeltaSchemaError",
    "DeltaUnsupportedError",
    "SparkWriteResult",
    "delta_format",
    "ensure_delta_format",
    "get_spark",
    "pushdown_is_safe",
    "read_delta",
    "read_table",
    "spark_conf",
    "stop_spark",
    "uses_delta_jar",
    "write_delta",
    "write_table",
]
