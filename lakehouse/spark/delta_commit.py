"""Driver side of a write: validate before any task runs, commit once after all succeed.

**Plan** (``plan_write``, at Spark's planning, before tasks start): pin the table version
the write is based on, check the DataFrame against the table (new columns need
``mergeSchema``; types may only widen; partitioning cannot change; NOT NULL columns must be
present), collect the row rules tasks enforce, and note whether the batch's app
transaction is already committed (then tasks write nothing).

**Commit** (``commit_write``): one Delta commit through delta-rs:

* ``append``: add actions (delta-rs rebases over concurrent appends and retries).
* ``overwrite``: the table's files *as of the pinned version* are removed.
* ``overwrite_partition``: with a predicate, files whose rows all match are removed and
  files with some matching rows are rewritten without them (replaceWhere); without one,
  every file in the partitions the write touched is removed (dynamic partition overwrite).
  Predicates are evaluated by DuckDB (UTC), the same engine that checks the new rows.

Removes are computed from the pinned version, so a concurrent commit that already removed
one of those files makes delta-rs refuse this commit (``DeltaConflictError``); concurrent
*blind appends* are not conflicts (they serialise after this write: WriteSerializable).
The app transaction (``txnAppId``/``txnVersion``, the platform's ``ioc-batch:<id>``
convention) goes into the same commit. On any failure the files are deleted.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable, Field
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import TableNotFoundError
from deltalake.schema import PrimitiveType
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    RemoveAction,
    Transaction,
    create_table_with_add_actions,
)
from pyspark.sql import types as T

from lakehouse.spark.delta_scan import (
    DataFile,
    ScanFilters,
    load_snapshot,
    output_arrow_schema,
    read_file,
    select_files,
    spark_schema,
    spark_type,
)
from lakehouse.spark.delta_write import FileRules, TaskWriter, WrittenFile, duck_connection
from lakehouse.spark.errors import (
    DeltaBridgeError,
    DeltaConflictError,
    DeltaSchemaError,
    DeltaUnsupportedError,
)
from lakehouse.spark.filters import filter_column, filters_from_sql, referenced_columns
from lakehouse.spark.storage import TableStore, partition_string

log = logging.getLogger(__name__)

MODES = ("append", "overwrite", "overwrite_partition")
_WIDENING = {"byte": 0, "short": 1, "integer": 2, "long": 3}


@dataclass
class WritePlan:
    """Everything tasks and the commit need; pickled from the planner to every task."""

    uri: str
    storage_options: dict[str, str] | None
    write_id: str
    mode: str
    schema: pa.Schema  # the table's schema after this write
    partition_by: list[str]
    read_version: int | None  # None: the table does not exist yet
    rules: FileRules = field(default_factory=FileRules)
    predicate: str | None = None
    new_columns: list[str] = field(default_factory=list)
    txn: tuple[str, int] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    target_file_bytes: int = 256 * 1024 * 1024
    already_committed: bool = False

    @property
    def store(self) -> TableStore:
        return TableStore(self.uri, self.storage_options)

    def task_writer(self, task: str) -> TaskWriter:
        return TaskWriter(self.store, self.schema, self.partition_by, self.write_id, task,
                          self.rules, self.target_file_bytes)


def _delta_type(arrow: pa.Field) -> str:
    """``long``, ``decimal(10,2)``…; nested types as their Spark form (nullability aside)."""
    kind = Field.from_arrow(arrow).type
    if isinstance(kind, PrimitiveType):
        return kind.type
    return spark_type(arrow.type).simpleString()


def txn_committed(table: DeltaTable, txn: tuple[str, int] | None) -> bool:
    """Whether the app transaction ``txn`` (app id, version) is already in ``table``."""
    if txn is None:
        return False
    version = table.transaction_version(txn[0])
    return version is not None and version >= txn[1]


def _widens(source: str, target: str) -> bool:
    if source == target:
        return True
    if source in _WIDENING and target in _WIDENING:
        return _WIDENING[source] <= _WIDENING[target]
    if source == "float" and target == "double":
        return True
    if source.startswith("decimal(") and target.startswith("decimal("):
        sp, ss = (int(x) for x in source[8:-1].split(","))
        tp, ts = (int(x) for x in target[8:-1].split(","))
        return ts >= ss and tp - ts >= sp - ss
    return False


def _unsupported_write(table: DeltaTable) -> str | None:
    protocol = table.protocol()
    config = table.metadata().configuration
    if config.get("delta.columnMapping.mode", "none") not in ("none", "") or "columnMapping" in (
            protocol.reader_features or []):
        return "column mapping"
    for delta_field in table.schema().fields:
        keys = set(delta_field.metadata or {})
        if any(k.startswith(("delta.generationExpression", "delta.identity.")) for k in keys):
            return f"generated/identity column {delta_field.name!r}"
        if "delta.invariants" in keys:
            return f"column invariant on {delta_field.name!r}"
    return None


def plan_write(uri: str, spark_schema: T.StructType, *, mode: str,
               partition_by: list[str] | None, predicate: str | None, merge_schema: bool,
               storage_options: dict[str, str] | None, write_id: str,
               txn: tuple[str, int] | None, metadata: dict[str, Any],
               target_file_bytes: int) -> WritePlan:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "append" and predicate:
        raise ValueError("a predicate only makes sense with mode='overwrite_partition'")
    incoming = output_arrow_schema(spark_schema)
    incoming = pa.schema([_utc(f) for f in incoming])
    names = [f.name.lower() for f in incoming]
    if len(set(names)) != len(names):
        raise DeltaSchemaError(f"duplicate column names (case-insensitive): {incoming.names}")
    try:
        table: DeltaTable | None = DeltaTable(uri, storage_options=storage_options)
    except TableNotFoundError:
        table = None

    base: dict[str, Any] = {
        "uri": uri, "storage_options": storage_options, "write_id": write_id, "mode": mode,
        "txn": txn, "metadata": metadata, "target_file_bytes": target_file_bytes,
        "predicate": predicate,
    }
    if table is None:
        partition_by = list(partition_by or [])
        missing = [c for c in partition_by if c.lower() not in names]
        if missing:
            raise DeltaSchemaError(f"partition column(s) {missing} are not in the DataFrame")
        lookup = {f.name.lower(): f.name for f in incoming}
        partition_by = [lookup[c.lower()] for c in partition_by]
        _check_partition_types(incoming, partition_by)
        schema = pa.schema([f.with_nullable(True) for f in incoming])
        rules = FileRules(must_match=predicate)
        return WritePlan(schema=schema, partition_by=partition_by, read_version=None, rules=rules,
                         **base)

    problem = _unsupported_write(table)
    if problem:
        raise DeltaUnsupportedError(f"{uri}: writing a table with {problem} needs delta-rs or "
                                    "the Delta jar, not the Spark bridge")
    current = pa.schema(table.schema().to_arrow())
    table_partitions = list(table.metadata().partition_columns)
    if partition_by and [c.lower() for c in partition_by] != [c.lower() for c in table_partitions]:
        raise DeltaSchemaError(f"{uri} is partitioned by {table_partitions}, not {partition_by}")
    if mode == "overwrite_partition" and not predicate and not table_partitions:
        raise DeltaBridgeError(f"overwrite_partition on unpartitioned {uri} needs a predicate")

    by_name = {f.name.lower(): f for f in incoming}
    for target in current:
        source = by_name.get(target.name.lower())
        if source is None:
            if not target.nullable:
                raise DeltaSchemaError(
                    f"NOT NULL column {target.name!r} missing from the DataFrame")
            continue
        if pa.types.is_null(source.type):
            continue
        have, want = _delta_type(source), _delta_type(target)
        if not _widens(have, want):
            raise DeltaSchemaError(f"column {target.name!r} is {want} in {uri}, the DataFrame has "
                                   f"{have}; cast it or replace the table")
    known = {f.name.lower() for f in current}
    added = [f for f in incoming if f.name.lower() not in known]
    if added and not merge_schema:
        raise DeltaSchemaError(f"new column(s) {[f.name for f in added]} not in {uri}; pass "
                               "merge_schema=True to add them (nullable)")
    if added and any(pa.types.is_null(f.type) for f in added):
        raise DeltaSchemaError("a new column of NULL type has no Delta type; cast it first")
    schema = pa.schema([*current, *[f.with_nullable(True) for f in added]])
    config = table.metadata().configuration
    constraints = tuple((k.removeprefix("delta.constraints."), v) for k, v in config.items()
                        if k.startswith("delta.constraints."))
    rules = FileRules(must_match=predicate, constraints=constraints,
                      not_null=tuple(f.name for f in current if not f.nullable))
    committed = txn_committed(table, txn)
    return WritePlan(schema=schema, partition_by=table_partitions, read_version=table.version(),
                     rules=rules, new_columns=[f.name for f in added],
                     already_committed=committed, **base)


def _utc(arrow: pa.Field) -> pa.Field:
    if pa.types.is_timestamp(arrow.type) and arrow.type.tz:
        return arrow.with_type(pa.timestamp("us", "UTC"))
    return arrow


def _check_partition_types(schema: pa.Schema, partition_by: list[str]) -> None:
    for name in partition_by:
        kind = schema.field(name).type
        if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_floating(kind):
            raise DeltaSchemaError(f"cannot partition by {name!r} of type {kind}")


# --------------------------------------------------------------------------- commit


def commit_write(plan: WritePlan, files: list[WrittenFile]) -> int | None:
    """Commit ``files`` as one Delta version; returns it (``None`` if the batch was
    already committed and the files were dropped). Deletes the files on any failure."""
    extra: list[WrittenFile] = []
    try:
        return _commit(plan, files, extra)
    except BaseException:
        discard(plan, [*files, *extra])
        raise


def _commit_properties(plan: WritePlan, rows: int) -> CommitProperties:
    transactions = [Transaction(app_id=plan.txn[0], version=plan.txn[1])] if plan.txn else None
    metadata = {**plan.metadata, "ioc.write_id": plan.write_id, "ioc.rows": rows,
                "ioc.operation": f"spark_{plan.mode}"}
    return CommitProperties(app_transactions=transactions, custom_metadata=metadata,
                            max_commit_retries=20)


def _adds(files: list[WrittenFile]) -> list[AddAction]:
    return [AddAction(f.path, f.size, f.partition_values, f.modification_time, True, f.stats)
            for f in files]


def _commit(plan: WritePlan, files: list[WrittenFile], extra: list[WrittenFile]) -> int | None:
    rows = sum(f.rows for f in files)
    options = plan.storage_options
    if plan.read_version is None:
        try:
            create_table_with_add_actions(
                plan.uri, DeltaSchema.from_arrow(plan.schema), _adds(files), mode="error",
                partition_by=plan.partition_by or None, storage_options=options,
                commit_properties=_commit_properties(plan, rows))
        except Exception as error:
            if "exist" in str(error).lower():
                raise DeltaConflictError(f"{plan.uri} was created by another writer while this "
                                         f"write ran: {error}") from error
            raise
        return 0

    latest = DeltaTable(plan.uri, storage_options=options)
    if txn_committed(latest, plan.txn):
        log.info("%s already committed to %s: files dropped", plan.txn[0], plan.uri)
        discard(plan, files)
        return None
    table = DeltaTable(plan.uri, version=plan.read_version, storage_options=options)
    removes: list[RemoveAction] = []
    if plan.mode == "overwrite_partition":
        removes = _partition_removes(plan, table, files, extra)
    if plan.new_columns:
        if plan.mode != "append" and latest.version() != plan.read_version:
            raise DeltaConflictError(f"{plan.uri} changed (v{plan.read_version} → "
                                     f"v{latest.version()}) while a schema-changing overwrite ran")
        table = latest if plan.mode == "append" else table
        table.alter.add_columns([Field.from_arrow(plan.schema.field(n)) for n in plan.new_columns])
    if not files and not removes and not plan.txn and plan.mode == "append":
        return table.version()  # nothing to record
    schema = pa.schema(table.schema().to_arrow())
    actions: list[AddAction | RemoveAction] = [*_adds([*files, *extra]), *removes]
    try:
        table.create_write_transaction(
            actions, "overwrite" if plan.mode == "overwrite" else "append", schema,
            partition_by=plan.partition_by or None,
            commit_properties=_commit_properties(plan, rows))
    except Exception as error:
        text = str(error)
        if "concurrent" in text.lower() or "conflict" in text.lower():
            raise DeltaConflictError(f"{plan.uri}: {text.splitlines()[0]}") from error
        raise
    return DeltaTable(plan.uri, storage_options=options).version()


def _remove(data_file: DataFile, columns: list[str]) -> RemoveAction:
    values = dict(data_file.partition)
    return RemoveAction(data_file.path, True, int(time.time() * 1000), data_file.size,
                        {c: partition_string(values.get(c)) for c in columns})


def _partition_removes(plan: WritePlan, table: DeltaTable, files: list[WrittenFile],
                       extra: list[WrittenFile]) -> list[RemoveAction]:
    snapshot = load_snapshot(table)
    if snapshot.needs_engine:
        raise DeltaUnsupportedError(f"overwrite_partition on a table with "
                                    f"{snapshot.needs_engine}")
    columns = snapshot.partition_columns
    if not plan.predicate:
        touched = {tuple(f.partition_values.get(c) for c in columns) for f in files}
        return [_remove(f, columns) for f in snapshot.files
                if tuple(partition_string(dict(f.partition).get(c)) for c in columns) in touched]
    # Candidate files: the predicate's simple terms prune exactly on partition values and
    # conservatively on statistics (a superset of the files holding matching rows).
    filters = filters_from_sql(plan.predicate, spark_schema(snapshot.schema))
    split = ScanFilters([f for f in filters if filter_column(f) in columns],
                        [f for f in filters if filter_column(f) not in columns])
    return _predicate_removes(plan, select_files(snapshot, split), columns, snapshot.schema,
                              extra)


def _predicate_removes(plan: WritePlan, candidates: list[DataFile], columns: list[str],
                       schema: pa.Schema, extra: list[WrittenFile]) -> list[RemoveAction]:
    """replaceWhere: remove files whose rows all match ``plan.predicate``; rewrite files
    where only some rows match (the driver writes the rows that stay)."""
    assert plan.predicate is not None
    con = duck_connection()
    try:
        referenced = {c.lower() for c in referenced_columns(plan.predicate)}
    except Exception:  # noqa: BLE001 - unparsable here: evaluate row by row below
        referenced = {"<unknown>"}
    removes: list[RemoveAction] = []
    if referenced and referenced <= {c.lower() for c in columns}:
        # Partition columns only: decide per file from its partition values.
        keys = pa.table({c: pa.array([dict(f.partition).get(c) for f in candidates],
                                     schema.field(c).type) for c in columns})
        keys = keys.append_column("__file", pa.array(range(len(candidates)), pa.int64()))
        con.register("files", keys)
        hits = con.execute(f"SELECT __file FROM files WHERE coalesce(({plan.predicate}), false)")
        return [_remove(candidates[i], columns) for (i,) in hits.fetchall()]

    store = plan.store
    keep = f"NOT coalesce(({plan.predicate}), false)"
    for number, data_file in enumerate(candidates):
        rows = pa.Table.from_batches(list(read_file(store, data_file, schema, 65536)), schema)
        con.register("file_rows", rows)
        matching, total = con.execute(
            f"SELECT count(*) FILTER (WHERE coalesce(({plan.predicate}), false)), count(*) "
            "FROM file_rows").fetchone()
        if matching:
            removes.append(_remove(data_file, columns))
            if matching < total:
                kept = con.execute(f"SELECT * FROM file_rows WHERE {keep}").fetch_arrow_table()
                writer = TaskWriter(store, schema, columns, plan.write_id, f"rewrite{number:05d}")
                writer.write_rows(kept)
                extra.extend(writer.finish())
        con.unregister("file_rows")
    return removes


def discard(plan: WritePlan, files: list[WrittenFile], *, sweep: bool = False) -> None:
    """Delete this write's files; with ``sweep``, also any file carrying its write id
    (left by a task that died before it could clean up)."""
    store = plan.store
    for written in files:
        store.delete(written.path)
    if sweep:
        for relative in store.data_files():
            if plan.write_id in relative.rsplit("/", 1)[-1]:
                store.delete(relative)
