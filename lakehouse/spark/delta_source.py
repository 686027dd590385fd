"""``ioc_delta``: a Spark Python Data Source that reads and writes Delta tables with delta-rs.

Why it exists: the Delta Lake jar cannot be fetched here (no Maven at run time), yet Spark
jobs must read and write the lake. Spark ≥ 4 lets Python implement a data source; this
one delegates the Delta protocol (log, snapshots, commits, conflicts) to delta-rs and does
the parallel work (Parquet reading and writing) in Spark tasks.

    spark.read.format("ioc_delta").option("versionAsOf", 3).load(uri)
    df.write.format("ioc_delta").mode("append").option("txnAppId", "ioc-batch:42")
      .option("txnVersion", 1).save(uri)

Read options: ``versionAsOf``, ``timestampAsOf``, ``columns`` (JSON list), ``storageOptions``
(JSON object), ``maxPartitionBytes`` / ``openCostInBytes`` / ``minPartitions`` (file packing,
as Spark's file sources), ``batchSize``, ``where`` (a SQL predicate whose simple AND terms
prune files at planning; the caller must still filter the rows) with ``timeZone`` (for
zone-less timestamp literals), ``filterPushdown`` (default false: implement ``pushFilters``;
needs ``spark.sql.python.filterPushdown.enabled`` and a Spark whose Python scan does not
reuse a pushed-down plan across queries, see :func:`lakehouse.spark.session.pushdown_is_safe`).

Write options: ``writeMode`` (``append`` | ``overwrite`` | ``overwrite_partition``; default
from the save mode), ``replaceWhere`` (predicate, DuckDB SQL), ``partitionOverwriteMode=dynamic``,
``partitionBy`` (JSON list), ``mergeSchema``, ``txnAppId`` + ``txnVersion`` (idempotent
writes, as in Delta Lake), ``batchId``, ``writeId``, ``storageOptions``, ``targetFileBytes``.

Use :func:`lakehouse.spark.read_delta` / :func:`lakehouse.spark.write_delta` rather than these
options directly: they also work with the real Delta jar and translate errors.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable
from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.types import StructType

from lakehouse.spark.delta_commit import WritePlan, commit_write, discard, plan_write
from lakehouse.spark.delta_scan import (
    DataFile,
    ScanFilters,
    Snapshot,
    load_snapshot,
    output_arrow_schema,
    pack_files,
    read_file,
    read_with_engine,
    select_files,
    spark_schema,
    table_arrow_schema,
)
from lakehouse.spark.delta_write import WrittenFile
from lakehouse.spark.errors import DeltaSchemaError
from lakehouse.spark.filters import filter_column, filters_from_sql, supported
from lakehouse.spark.storage import TableStore

NAME = "ioc_delta"


def _flag(options: Mapping[str, str], key: str, default: bool = False) -> bool:
    value = options.get(key)
    return default if value is None else str(value).strip().lower() in {"1", "true", "yes"}


def _names(value: str | None) -> list[str]:
    if not value:
        return []
    value = value.strip()
    if value.startswith("["):
        return [str(v) for v in json.loads(value)]
    return [v.strip() for v in value.split(",") if v.strip()]


def _storage(options: Mapping[str, str]) -> dict[str, str] | None:
    raw = options.get("storageOptions")
    return json.loads(raw) if raw else None


@dataclass(frozen=True)
class ReadSpec:
    """A read request, parsed once from the data source options."""

    uri: str
    version: int | None = None
    timestamp: str | None = None
    columns: tuple[str, ...] = ()
    storage_options: dict[str, str] | None = None
    max_partition_bytes: int = 128 * 1024 * 1024
    open_cost: int = 4 * 1024 * 1024
    min_partitions: int = 2
    batch_size: int = 32_768
    pushdown: bool = False
    where: str | None = None  # SQL predicate used to prune files at planning
    time_zone: str = "UTC"  # for zone-less timestamp literals in ``where``

    @classmethod
    def parse(cls, options: Mapping[str, str], pinned: int | None = None) -> ReadSpec:
        if not options.get("path"):
            raise ValueError(f"{NAME}: no table path; use .load(uri)")
        version = options.get("versionAsOf")
        return cls(
            uri=str(options["path"]),
            version=pinned if pinned is not None else (int(version) if version else None),
            timestamp=None if pinned is not None else options.get("timestampAsOf"),
            columns=tuple(_names(options.get("columns"))),
            storage_options=_storage(options),
            max_partition_bytes=int(options.get("maxPartitionBytes") or cls.max_partition_bytes),
            open_cost=int(options.get("openCostInBytes") or cls.open_cost),
            min_partitions=int(options.get("minPartitions") or cls.min_partitions),
            batch_size=int(options.get("batchSize") or cls.batch_size),
            pushdown=_flag(options, "filterPushdown"),
            where=options.get("where") or None,
            time_zone=options.get("timeZone") or "UTC",
        )

    def open(self) -> DeltaTable:
        table = DeltaTable(self.uri, version=self.version, storage_options=self.storage_options)
        if self.timestamp and self.version is None:
            table.load_as_version(self.timestamp)
        return table


def project(schema: StructType, columns: tuple[str, ...]) -> StructType:
    """The requested columns, in request order, spelled as the table spells them."""
    if not columns:
        return schema
    by_name = {f.name.lower(): f for f in schema.fields}
    missing = [c for c in columns if c.lower() not in by_name]
    if missing:
        raise DeltaSchemaError(f"no column(s) {missing} in the table ({schema.fieldNames()})")
    seen: dict[str, Any] = {}
    for column in columns:
        seen.setdefault(column.lower(), by_name[column.lower()])
    return StructType(list(seen.values()))


@dataclass
class FileGroup(InputPartition):
    """One Spark task: a few data files of the pinned version."""

    files: tuple[DataFile, ...]


@dataclass
class EngineScan(InputPartition):
    """The single task of a fallback read through delta-rs' engine."""

    version: int


class _DeltaScanBase(DataSourceReader):
    """Plans input partitions from a pinned snapshot and reads Parquet files as Arrow."""

    def __init__(self, spec: ReadSpec, schema: StructType) -> None:
        self.spec = spec
        self.schema = schema
        self.filters = ScanFilters()
        self.planned: list[InputPartition] = []
        self._snapshot: Snapshot | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_snapshot"] = None  # the file list stays on the driver
        state["planned"] = []
        return state

    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = load_snapshot(self.spec.open())
        return self._snapshot

    def partitions(self) -> list[InputPartition]:
        snapshot = self.snapshot()
        if snapshot.needs_engine:
            self.planned = [EngineScan(snapshot.version)]
            return list(self.planned)
        files = select_files(snapshot, self.scan_filters(snapshot))
        groups = pack_files(files, max_bytes=self.spec.max_partition_bytes,
                            open_cost=self.spec.open_cost, min_partitions=self.spec.min_partitions)
        # No file left: one empty task (pyspark would otherwise plan InputPartition(None)).
        self.planned = [FileGroup(tuple(group)) for group in groups] or [FileGroup(())]
        return list(self.planned)

    def scan_filters(self, snapshot: Snapshot) -> ScanFilters:
        """Pushed filters plus the ``where`` option's simple terms (pruning only: the
        helper applies ``where`` to the rows too)."""
        filters = ScanFilters(list(self.filters.partition), list(self.filters.data))
        if self.spec.where:
            for flt in filters_from_sql(self.spec.where, spark_schema(snapshot.schema),
                                        self.spec.time_zone):
                if filter_column(flt) in snapshot.partition_columns:
                    filters.partition.append(flt)
                else:
                    filters.data.append(flt)
        return filters

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        out = output_arrow_schema(self.schema)
        if isinstance(partition, EngineScan):
            yield from read_with_engine(self.spec.uri, partition.version, out,
                                        self.spec.storage_options)
            return
        if not isinstance(partition, FileGroup):
            return
        store = TableStore(self.spec.uri, self.spec.storage_options)
        for data_file in partition.files:
            yield from read_file(store, data_file, out, self.spec.batch_size)


class DeltaScanWithoutPushdown(_DeltaScanBase):
    """The default reader: no ``pushFilters``. pyspark refuses a reader implementing it
    while ``spark.sql.python.filterPushdown.enabled`` is off, and on pyspark ≤ 4.3 Spark
    pushdown is unsafe anyway (prune with ``where`` instead)."""


class DeltaScan(_DeltaScanBase):
    """The reader with filter pushdown (pyspark ≥ 4.1)."""

    def pushFilters(self, filters: list[Any]) -> Iterator[Any]:
        snapshot = self.snapshot()
        kinds = {f.name: f.dataType for f in self.schema.fields}
        for flt in filters:
            column = filter_column(flt)
            if (snapshot.needs_engine or column not in kinds
                    or not supported(flt, kinds[column])):
                yield flt
            elif column in snapshot.partition_columns:
                self.filters.partition.append(flt)  # exact: Spark need not re-check
            else:
                self.filters.data.append(flt)  # skips files; rows are still checked
                yield flt


@dataclass
class DeltaCommitMessage(WriterCommitMessage):
    files: list[WrittenFile] = field(default_factory=list)
    rows: int = 0


def _task_name() -> str:
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None:
        return uuid.uuid4().hex[:8]
    return f"{context.partitionId():05d}-a{context.attemptNumber()}"


class DeltaWriter(DataSourceArrowWriter):
    """Tasks write Parquet files; the driver commits them once (or deletes them)."""

    def __init__(self, plan: WritePlan) -> None:
        self.plan = plan

    def write(self, iterator: Iterator[pa.RecordBatch]) -> DeltaCommitMessage:
        if self.plan.already_committed:
            for _ in iterator:  # the batch is in the table already: write nothing
                pass
            return DeltaCommitMessage()
        writer = self.plan.task_writer(_task_name())
        try:
            for batch in iterator:
                writer.write(batch)
            files = writer.finish()
        except BaseException:
            writer.discard()
            raise
        return DeltaCommitMessage(files, sum(f.rows for f in files))

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        if not self.plan.already_committed:
            commit_write(self.plan, _files(messages))

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        discard(self.plan, _files(messages), sweep=True)


def _files(messages: list[WriterCommitMessage | None]) -> list[WrittenFile]:
    return [f for m in messages if isinstance(m, DeltaCommitMessage) for f in m.files]


def write_plan(options: Mapping[str, str], schema: StructType, overwrite: bool) -> WritePlan:
    """Translate data source options (and Spark's save mode) into a validated plan."""
    if not options.get("path"):
        raise ValueError(f"{NAME}: no table path; use .save(uri)")
    predicate = options.get("replaceWhere") or None
    mode = (options.get("writeMode") or ("overwrite" if overwrite else "append")).lower()
    if mode == "overwrite" and (predicate or (options.get("partitionOverwriteMode") or "")
                                .lower() == "dynamic"):
        mode = "overwrite_partition"
    txn = None
    if options.get("txnAppId"):
        txn = (str(options["txnAppId"]), int(options.get("txnVersion") or 1))
    metadata: dict[str, Any] = {}
    if options.get("batchId"):
        metadata["ioc.batch_id"] = str(options["batchId"])
    partition_by = _names(options.get("partitionBy") or options.get("__partition_columns"))
    return plan_write(
        str(options["path"]), schema, mode=mode, partition_by=partition_by, predicate=predicate,
        merge_schema=_flag(options, "mergeSchema"), storage_options=_storage(options),
        write_id=str(options.get("writeId") or uuid.uuid4().hex), txn=txn, metadata=metadata,
        target_file_bytes=int(options.get("targetFileBytes") or 256 * 1024 * 1024),
    )


class DeltaDataSource(DataSource):
    """Spark's entry point: ``spark.dataSource.register(DeltaDataSource)``."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> StructType:
        # Runs once when the DataFrame is defined: pin the version so schema and data agree.
        table = ReadSpec.parse(self.options).open()
        self.pinned_version = table.version()
        return project(spark_schema(table_arrow_schema(table)),
                       ReadSpec.parse(self.options).columns)

    def reader(self, schema: StructType) -> DataSourceReader:
        spec = ReadSpec.parse(self.options, getattr(self, "pinned_version", None))
        return (DeltaScan if spec.pushdown else DeltaScanWithoutPushdown)(spec, schema)

    def writer(self, schema: StructType, overwrite: bool) -> DeltaWriter:
        return DeltaWriter(write_plan(self.options, schema, overwrite))
