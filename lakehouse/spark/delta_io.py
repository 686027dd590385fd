"""Read and write the lake's Delta tables from Spark, whichever Delta Spark has.

With the Delta Lake jar (``io.delta.sql.DeltaSparkSessionExtension`` configured) these use
``format("delta")`` and Delta's own options; without it, the delta-rs bridge
(``format("ioc_delta")``, :mod:`lakehouse.spark.delta_source`). Callers never branch.

Idempotency follows :mod:`lakehouse.lake.delta`: ``batch_id`` becomes the Delta application
transaction ``ioc-batch:<batch_id>`` (version 1) in the same commit as the data, so
re-running a batch that is already in the table writes nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from lakehouse.lake.delta import app_id, batch_committed, try_open
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.lake.paths import storage_options as lake_storage_options
from lakehouse.settings import Settings, get_settings
from lakehouse.spark.errors import from_message
from lakehouse.spark.filters import referenced_columns
from lakehouse.spark.session import (
    BRIDGE_FORMAT,
    PUSHDOWN_SQL_CONF,
    ensure_delta_format,
    pushdown_is_safe,
    uses_delta_jar,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

WriteMode = Literal["append", "overwrite", "overwrite_partition"]
HISTORY_SEARCH = 50  # commits searched for this write's id after it returns


@dataclass(frozen=True)
class SparkWriteResult:
    """What a Spark write did: the version it committed, or ``skipped`` when its batch
    was already in the table."""

    uri: str
    mode: str
    rows: int
    version: int | None
    batch_id: str | None = None
    skipped: bool = False
    write_id: str = ""


def read_delta(spark: SparkSession, uri: str, *, version: int | None = None,
               timestamp: str | None = None, columns: list[str] | None = None,
               where: str | None = None, storage_options: Mapping[str, str] | None = None,
               options: Mapping[str, str] | None = None) -> DataFrame:
    """A Delta table as a DataFrame, optionally as of ``version`` (or ``timestamp``, RFC 3339).

    * ``columns``: only these Parquet columns are read.
    * ``where``: a Spark SQL predicate. Its simple AND terms (``col <op> literal``,
      ``IN``, ``BETWEEN``, ``IS [NOT] NULL``) prune files at planning, exactly on partition
      columns and by min/max statistics on the others; the whole predicate then filters
      the rows. This is the pruning that works on every pyspark; Spark-level pushdown of
      later ``.where()`` calls is used too where it is safe (:func:`pushdown_is_safe`).
    * The snapshot is fixed when this returns: later commits are not seen by this DataFrame.
    """
    wanted = _unique(columns) if columns else None
    if uses_delta_jar(spark):
        reader = spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        elif timestamp:
            reader = reader.option("timestampAsOf", timestamp)
        frame = reader.options(**dict(options or {})).load(uri)
    else:
        ensure_delta_format(spark)
        pushdown = (spark.conf.get(PUSHDOWN_SQL_CONF, "false") == "true"
                    and pushdown_is_safe(spark))
        settings: dict[str, str] = {
            "minPartitions": str(spark.sparkContext.defaultParallelism),
            "filterPushdown": str(pushdown).lower(),
            "timeZone": spark.conf.get("spark.sql.session.timeZone", "UTC") or "UTC",
        }
        if version is not None:
            settings["versionAsOf"] = str(version)
        elif timestamp:
            settings["timestampAsOf"] = timestamp
        if wanted:  # the predicate's columns are read too, then dropped
            extra = [c for c in referenced_columns(where) if c not in wanted] if where else []
            settings["columns"] = json.dumps([*wanted, *extra])
        if where:
            settings["where"] = where
        if storage_options:
            settings["storageOptions"] = json.dumps(dict(storage_options))
        settings.update(options or {})
        frame = spark.read.format(BRIDGE_FORMAT).options(**settings).load(uri)
    if where:
        frame = frame.where(where)
    return frame.select(*wanted) if wanted else frame


def read_table(spark: SparkSession, tier: Tier | str, name: str, *,
               settings: Settings | None = None, **kwargs: Any) -> DataFrame:
    """:func:`read_delta` for ``<lake_root>/<tier>/<name>`` with the lake's storage options."""
    settings = settings or get_settings()
    kwargs.setdefault("storage_options", lake_storage_options(settings))
    return read_delta(spark, table_uri(tier, name, settings), **kwargs)


def write_delta(df: DataFrame, uri: str, *, mode: WriteMode = "append",
                partition_by: list[str] | None = None, predicate: str | None = None,
                storage_options: Mapping[str, str] | None = None, batch_id: str | None = None,
                merge_schema: bool = False,
                options: Mapping[str, str] | None = None) -> SparkWriteResult:
    """Write ``df`` to the Delta table at ``uri`` in one commit.

    * ``append``; ``overwrite`` (whole table; the schema must stay compatible);
      ``overwrite_partition``: replace the rows matching ``predicate`` (DuckDB/Spark SQL
      such as ``report_date = '2025-06-01'``; every written row must match it) or, with no
      predicate, the partitions present in ``df``.
    * ``partition_by`` applies when the table is created (it must match an existing table).
    * ``merge_schema``: new DataFrame columns are added to the table (nullable); without it
      they are an error (:class:`DeltaSchemaError`).
    * ``batch_id``: recorded as app transaction ``ioc-batch:<batch_id>``; a batch already
      committed is skipped (``skipped=True``), before any Spark job runs.

    Raises :class:`DeltaConflictError` when a concurrent commit removed data this write
    replaces; nothing is committed and the written files are removed.
    """
    so = dict(storage_options) if storage_options else None
    if mode not in ("append", "overwrite", "overwrite_partition"):
        raise ValueError(f"unknown mode {mode!r}")
    if predicate and mode != "overwrite_partition":
        raise ValueError("predicate only applies to mode='overwrite_partition'")
    if batch_id and batch_committed(uri, batch_id, so):
        log.info("batch %s already in %s: skipped", batch_id, uri)
        return SparkWriteResult(uri, mode, 0, _version(uri, so), batch_id, skipped=True)
    write_id = uuid.uuid4().hex
    spark = df.sparkSession
    if uses_delta_jar(spark):
        settings = jar_write_options(mode=mode, predicate=predicate, batch_id=batch_id,
                                     merge_schema=merge_schema, write_id=write_id)
        writer = df.write.format("delta").mode("append" if mode == "append" else "overwrite")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
    else:
        ensure_delta_format(spark)
        settings = bridge_write_options(mode=mode, predicate=predicate, batch_id=batch_id,
                                        merge_schema=merge_schema, write_id=write_id,
                                        partition_by=partition_by, storage_options=so)
        writer = df.write.format(BRIDGE_FORMAT).mode("append" if mode == "append" else "overwrite")
    settings.update(options or {})
    try:
        writer.options(**settings).save(uri)
    except Exception as error:  # Spark wraps worker errors: surface the bridge's own class
        translated = from_message(str(error))
        if translated is not None:
            raise translated from error
        raise
    return _result(uri, mode, batch_id, write_id, so)


def write_table(df: DataFrame, tier: Tier | str, name: str, *, settings: Settings | None = None,
                **kwargs: Any) -> SparkWriteResult:
    """:func:`write_delta` to ``<lake_root>/<tier>/<name>`` with the lake's storage options."""
    settings = settings or get_settings()
    kwargs.setdefault("storage_options", lake_storage_options(settings))
    return write_delta(df, table_uri(tier, name, settings), **kwargs)


def bridge_write_options(*, mode: str, predicate: str | None, batch_id: str | None,
                         merge_schema: bool, write_id: str, partition_by: list[str] | None,
                         storage_options: Mapping[str, str] | None) -> dict[str, str]:
    settings = {"writeMode": mode, "writeId": write_id, "mergeSchema": str(merge_schema).lower()}
    if predicate:
        settings["replaceWhere"] = predicate
    if partition_by:
        settings["partitionBy"] = json.dumps(list(partition_by))
    if batch_id:
        settings.update(txnAppId=app_id(batch_id), txnVersion="1", batchId=batch_id)
    if storage_options:
        settings["storageOptions"] = json.dumps(dict(storage_options))
    return settings


def jar_write_options(*, mode: str, predicate: str | None, batch_id: str | None,
                      merge_schema: bool, write_id: str) -> dict[str, str]:
    """The same write expressed in Delta Lake's own DataFrameWriter options."""
    settings = {"mergeSchema": str(merge_schema).lower(),
                "userMetadata": json.dumps({"ioc.write_id": write_id, "ioc.batch_id": batch_id})}
    if mode == "overwrite_partition":
        if predicate:
            settings["replaceWhere"] = predicate
        else:
            settings["partitionOverwriteMode"] = "dynamic"
    if batch_id:
        settings.update(txnAppId=app_id(batch_id), txnVersion="1")
    return settings


def _unique(columns: list[str]) -> list[str]:
    return list(dict.fromkeys(columns))


def _version(uri: str, storage_options: dict[str, str] | None) -> int | None:
    table = try_open(uri, storage_options)
    return None if table is None else table.version()


def _result(uri: str, mode: str, batch_id: str | None, write_id: str,
            storage_options: dict[str, str] | None) -> SparkWriteResult:
    """Find this write's commit by its write id (other writers may have committed since)."""
    table = try_open(uri, storage_options)
    if table is None:
        return SparkWriteResult(uri, mode, 0, None, batch_id, write_id=write_id)
    for commit in table.history(HISTORY_SEARCH):
        marker = commit.get("ioc.write_id") or _user_metadata(commit).get("ioc.write_id")
        if marker == write_id:
            return SparkWriteResult(uri, mode, int(commit.get("ioc.rows") or 0),
                                    int(commit["version"]), batch_id, write_id=write_id)
    # No commit: the batch was committed by someone else meanwhile, or nothing to write.
    skipped = bool(batch_id) and table.transaction_version(app_id(batch_id or "")) is not None
    return SparkWriteResult(uri, mode, 0, table.version(), batch_id, skipped, write_id)


def _user_metadata(commit: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(commit.get("userMetadata") or "{}")
    except (TypeError, ValueError):
        return {}
