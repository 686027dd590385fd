"""Read side of the bridge, free of Spark's planner: which files a scan needs and how one
data file becomes Arrow batches of exactly the schema Spark expects.

* **Snapshot.** A scan is pinned to one table version (given, or the latest at planning).
* **Partition pruning.** Filters on partition columns (pushed by Spark, or the simple terms
  of ``read_delta(where=...)``) are evaluated exactly, SQL three-valued logic, on each
  file's typed partition values (:mod:`lakehouse.spark.filters`).
* **Data skipping.** Filters on other columns are checked against the per-file
  min/max/null-count statistics in the log; a file is skipped only when no row can match,
  and Spark still evaluates those filters on the rows it reads.
* **Files → batches.** Parquet files hold no partition columns (constants from the log
  are added) and may predate a schema change (missing columns read as NULL, narrower
  types are cast).
* **Fallback.** Column mapping and deletion vectors change what a raw Parquet file means;
  such tables are read through delta-rs' own engine (``DeltaTable.scan``) in a single
  partition, correct but not parallel.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable
from pyspark.sql import types as T

from lakehouse.spark.errors import DeltaUnsupportedError
from lakehouse.spark.filters import Not, evaluate, filter_column, may_match
from lakehouse.spark.storage import TableStore, log_path_to_relative

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- types


def spark_type(arrow: pa.DataType) -> T.DataType:
    """The Spark type of a Delta column (given as its Arrow type); all fields nullable."""
    t = pa.types
    if t.is_string(arrow) or t.is_large_string(arrow) or t.is_string_view(arrow):
        return T.StringType()
    if t.is_binary(arrow) or t.is_large_binary(arrow) or t.is_binary_view(arrow):
        return T.BinaryType()
    simple = {pa.bool_(): T.BooleanType(), pa.int8(): T.ByteType(), pa.int16(): T.ShortType(),
              pa.int32(): T.IntegerType(), pa.int64(): T.LongType(), pa.float32(): T.FloatType(),
              pa.float64(): T.DoubleType(), pa.date32(): T.DateType()}
    if arrow in simple:
        return simple[arrow]
    if t.is_timestamp(arrow):
        return T.TimestampType() if arrow.tz else T.TimestampNTZType()
    if t.is_decimal(arrow):
        return T.DecimalType(arrow.precision, arrow.scale)
    if t.is_list(arrow) or t.is_large_list(arrow):
        return T.ArrayType(spark_type(arrow.value_type), True)
    if t.is_map(arrow):
        return T.MapType(spark_type(arrow.key_type), spark_type(arrow.item_type), True)
    if t.is_struct(arrow):
        return T.StructType([T.StructField(f.name, spark_type(f.type), True) for f in arrow])
    raise DeltaUnsupportedError(f"Delta column type {arrow} has no Spark mapping in the bridge")


def spark_schema(arrow: pa.Schema) -> T.StructType:
    return T.StructType([T.StructField(f.name, spark_type(f.type), True) for f in arrow])


def output_arrow_schema(schema: T.StructType) -> pa.Schema:
    """Exactly the Arrow schema pyspark checks batches from ``read`` against."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema, timezone="UTC")


def table_arrow_schema(table: DeltaTable) -> pa.Schema:
    return pa.schema(table.schema().to_arrow())


def cast_column(column: pa.Array | pa.ChunkedArray, target: pa.DataType) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.type == target:
        return column
    # Timestamps: nanosecond files or another zone label are truncated/relabelled, not refused.
    return column.cast(target, safe=not pa.types.is_timestamp(target))


# --------------------------------------------------------------------------- snapshot


@dataclass(frozen=True)
class DataFile:
    """One add action: what an input partition needs to read it on an executor."""

    path: str  # decoded, relative to the table root (or absolute)
    size: int
    partition: tuple[tuple[str, Any], ...] = ()
    rows: int | None = None


@dataclass(frozen=True)
class FileStats:
    rows: int | None
    minimum: dict[str, Any]
    maximum: dict[str, Any]
    nulls: dict[str, Any]


@dataclass
class Snapshot:
    """The files of one table version, with typed partition values and statistics."""

    uri: str
    version: int
    schema: pa.Schema
    partition_columns: list[str]
    files: list[DataFile]
    stats: list[FileStats]
    needs_engine: str | None = None  # why raw Parquet reading is wrong here, if it is


def needs_engine(table: DeltaTable) -> str | None:
    """Column mapping or deletion vectors: raw Parquet files are not the table's rows."""
    protocol = table.protocol()
    features = set(protocol.reader_features or [])
    mode = table.metadata().configuration.get("delta.columnMapping.mode", "none")
    if "columnMapping" in features or mode not in ("none", "", None):
        return "column mapping"
    if "deletionVectors" in features:
        dvs = pa.table(table.deletion_vectors())
        if dvs.num_rows:
            return "deletion vectors"
    return None


def load_snapshot(table: DeltaTable) -> Snapshot:
    schema = table_arrow_schema(table)
    partition_columns = list(table.metadata().partition_columns)
    reason = needs_engine(table)
    files: list[DataFile] = []
    stats: list[FileStats] = []
    if reason is None:
        actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
        top_level = [f.name for f in schema if f.name not in partition_columns]
        for action in actions:
            partition = tuple((c, action.get(f"partition.{c}")) for c in partition_columns)
            rows = action.get("num_records")
            files.append(DataFile(log_path_to_relative(action["path"]), int(action["size_bytes"]),
                                  partition, rows))
            stats.append(FileStats(
                rows,
                {c: action.get(f"min.{c}") for c in top_level},
                {c: action.get(f"max.{c}") for c in top_level},
                {c: action.get(f"null_count.{c}") for c in top_level},
            ))
    return Snapshot(table.table_uri, table.version(), schema, partition_columns, files, stats,
                    reason)


# --------------------------------------------------------------------------- pruning


@dataclass
class ScanFilters:
    """Pushed filters split by what the reader can do with them."""

    partition: list[Any] = field(default_factory=list)  # exact; Spark skips them
    data: list[Any] = field(default_factory=list)  # file skipping only; Spark re-checks


def select_files(snapshot: Snapshot, filters: ScanFilters) -> list[DataFile]:
    """The files that may hold rows passing ``filters`` (exact on partition values)."""
    kinds = {f.name: f.dataType for f in spark_schema(snapshot.schema).fields}
    selected = []
    for data_file, stats in zip(snapshot.files, snapshot.stats, strict=True):
        values = dict(data_file.partition)
        if any(evaluate(f, values.get(filter_column(f))) is not True for f in filters.partition):
            continue
        if any(not _may_match(f, stats, kinds) for f in filters.data):
            continue
        selected.append(data_file)
    return selected


def _may_match(flt: Any, stats: FileStats, kinds: dict[str, T.DataType]) -> bool:
    column = filter_column(flt)
    if column is None or column not in kinds or isinstance(flt, Not):
        return True
    return may_match(flt, kinds[column], rows=stats.rows, low=stats.minimum.get(column),
                     high=stats.maximum.get(column), nulls=stats.nulls.get(column))


# --------------------------------------------------------------------------- planning


def pack_files(files: Sequence[DataFile], *, max_bytes: int, open_cost: int,
               min_partitions: int) -> list[list[DataFile]]:
    """Spark's own file packing (``FilePartition.maxSplitBytes`` then next-fit by size):
    small files share a task, a big file gets its own."""
    if not files:
        return []
    total = sum(f.size + open_cost for f in files)
    split = min(max_bytes, max(open_cost, total // max(min_partitions, 1)))
    groups: list[list[DataFile]] = []
    current: list[DataFile] = []
    size = 0
    for data_file in sorted(files, key=lambda f: (-f.size, f.path)):
        if current and size + data_file.size > split:
            groups.append(current)
            current, size = [], 0
        current.append(data_file)
        size += data_file.size + open_cost
    if current:
        groups.append(current)
    return groups


# --------------------------------------------------------------------------- reading


def read_file(store: TableStore, data_file: DataFile, out: pa.Schema,
              batch_size: int) -> Iterator[pa.RecordBatch]:
    """One data file as batches of schema ``out`` (partition constants, NULL for columns
    the file predates, casts for widened types)."""
    partition = dict(data_file.partition)
    with store.open_input(data_file.path) as handle:
        parquet = pq.ParquetFile(handle)
        present = set(parquet.schema_arrow.names)
        wanted = [f.name for f in out if f.name not in partition and f.name in present]
        if wanted:
            batches = parquet.iter_batches(batch_size=batch_size, columns=wanted, use_threads=False)
            for batch in batches:
                yield _assemble(batch, batch.num_rows, partition, out)
        else:  # only partition / missing columns asked for: row counts suffice
            for group in range(parquet.num_row_groups):
                rows = parquet.metadata.row_group(group).num_rows
                for start in range(0, rows, batch_size):
                    yield _assemble(None, min(batch_size, rows - start), partition, out)


def _assemble(batch: pa.RecordBatch | None, rows: int, partition: dict[str, Any],
              out: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for target in out:
        if target.name in partition:
            value = partition[target.name]
            scalar = pa.scalar(value, type=target.type) if value is not None else None
            arrays.append(pa.repeat(scalar, rows) if scalar is not None
                          else pa.nulls(rows, target.type))
        elif batch is not None and target.name in batch.schema.names:
            arrays.append(cast_column(batch.column(target.name), target.type))
        else:
            arrays.append(pa.nulls(rows, target.type))
    return pa.RecordBatch.from_arrays(arrays, schema=out)


def read_with_engine(uri: str, version: int, out: pa.Schema,
                     storage_options: dict[str, str] | None) -> Iterator[pa.RecordBatch]:
    """The fallback: delta-rs' DataFusion scan, which applies column mapping and DVs."""
    table = DeltaTable(uri, version=version, storage_options=storage_options)
    reader = pa.RecordBatchReader.from_stream(table.scan(columns=out.names))
    for batch in reader:
        arrays = [cast_column(batch.column(f.name), f.type) for f in out]
        yield pa.RecordBatch.from_arrays(arrays, schema=out)
