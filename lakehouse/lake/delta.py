"""Delta Lake writes on delta-rs that never lose or duplicate a batch.

* Every write carries a Delta *application transaction* (``txn`` action) named after its
  batch; a batch whose txn is already in the log is skipped, so re-running a task is a no-op.
* delta-rs writes Parquet files first and commits once; an exception before the commit
  leaves the table at its previous version (the orphan files are removed by ``vacuum``).
* Concurrent appends are retried by delta-rs' optimistic concurrency control, so both land.
* A MERGE that loses a race (a writer or the nightly compaction committed what it read) is
  planned again on the new version (:data:`MERGE_ATTEMPTS`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import CommitProperties, Transaction

log = logging.getLogger(__name__)

CDF_ON = {"delta.enableChangeDataFeed": "true"}
MERGE_ATTEMPTS = 5


@dataclass(frozen=True)
class WriteResult:
    uri: str
    batch_id: str
    rows: int
    version: int | None
    skipped: bool = False  # the batch was already committed: nothing written


def app_id(batch_id: str) -> str:
    """The Delta application-transaction id that marks ``batch_id`` as committed."""
    return f"ioc-batch:{batch_id}"


def _commit(batch_id: str, operation: str) -> CommitProperties:
    return CommitProperties(
        app_transactions=[Transaction(app_id=app_id(batch_id), version=1)],
        custom_metadata={"ioc.batch_id": batch_id, "ioc.operation": operation},
        max_commit_retries=20,
    )


def try_open(uri: str, storage_options: dict | None = None) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=storage_options)
    except TableNotFoundError:
        return None


def batch_committed(uri: str, batch_id: str, storage_options: dict | None = None) -> bool:
    table = try_open(uri, storage_options)
    return table is not None and table.transaction_version(app_id(batch_id)) is not None


def _rows(data: pa.Table | pa.RecordBatchReader) -> int:
    return data.num_rows if isinstance(data, pa.Table) else -1


def append(
    uri: str,
    data: pa.Table | pa.RecordBatchReader,
    *,
    batch_id: str,
    partition_by: list[str] | None = None,
    configuration: dict[str, str] | None = None,
    storage_options: dict | None = None,
) -> WriteResult:
    """Append ``data`` once per ``batch_id``. The schema must equal the table's (enforced)."""
    if batch_committed(uri, batch_id, storage_options):
        log.info("batch %s already in %s: skipped", batch_id, uri)
        return WriteResult(uri, batch_id, 0, _version(uri, storage_options), skipped=True)
    write_deltalake(
        uri,
        data,
        mode="append",
        partition_by=partition_by or None,
        configuration=configuration,
        storage_options=storage_options,
        commit_properties=_commit(batch_id, "append"),
    )
    return WriteResult(uri, batch_id, _rows(data), _version(uri, storage_options))


def merge(
    uri: str,
    data: pa.Table,
    *,
    keys: list[str],
    batch_id: str,
    order_by: str | None = None,
    soft_delete: str | None = None,
    partition_by: list[str] | None = None,
    configuration: dict[str, str] | None = CDF_ON,
    storage_options: dict | None = None,
) -> WriteResult:
    """Upsert ``data`` on ``keys``. With ``order_by`` (an event or update time) a late,
    older row never overwrites a newer one already in the table. With ``soft_delete`` (a
    boolean column) a source row flagged deleted removes the key instead.

    A merge that loses a commit race (another writer, or the nightly compaction, committed
    files it had read) is planned again on the new version, up to ``MERGE_ATTEMPTS`` times:
    delta-rs retries only commits that cannot conflict, and a MERGE reads what it rewrites."""
    for attempt in range(1, MERGE_ATTEMPTS + 1):
        try:
            return _merge_once(uri, data, keys=keys, batch_id=batch_id, order_by=order_by, soft_delete=soft_delete,
                               partition_by=partition_by, configuration=configuration,
                               storage_options=storage_options)
        except CommitFailedError as conflict:
            if attempt == MERGE_ATTEMPTS:
                raise
            log.warning("merge of batch %s into %s conflicted (%s): planning it again", batch_id, uri,
                        str(conflict).splitlines()[0])
    raise AssertionError("unreachable")


def _merge_once(uri: str, data: pa.Table, *, keys: list[str], batch_id: str, order_by: str | None,
                soft_delete: str | None, partition_by: list[str] | None, configuration: dict[str, str] | None,
                storage_options: dict | None) -> WriteResult:
    table = try_open(uri, storage_options)
    if table is None:
        if soft_delete:
            data = data.filter(pa.compute.invert(pa.compute.fill_null(data.column(soft_delete), False)))
        write_deltalake(
            uri,
            data,
            mode="append",
            partition_by=partition_by or None,
            configuration=configuration,
            storage_options=storage_options,
            commit_properties=_commit(batch_id, "merge"),
        )
        return WriteResult(uri, batch_id, data.num_rows, _version(uri, storage_options))
    if table.transaction_version(app_id(batch_id)) is not None:
        return WriteResult(uri, batch_id, 0, table.version(), skipped=True)
    predicate = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    newer = f"s.`{order_by}` >= t.`{order_by}`" if order_by else None
    before = table.version()
    merger = table.merge(
        source=data,
        predicate=predicate,
        source_alias="s",
        target_alias="t",
        commit_properties=_commit(batch_id, "merge"),
    )
    if soft_delete:
        deleted = f"s.`{soft_delete}` = true"
        merger = merger.when_matched_delete(predicate=f"{deleted} AND {newer}" if newer else deleted)
        live = f"(s.`{soft_delete}` IS NULL OR s.`{soft_delete}` = false)"
        merger = merger.when_matched_update_all(predicate=f"{live} AND {newer}" if newer else live)
        merger = merger.when_not_matched_insert_all(predicate=live)
    else:
        merger = merger.when_matched_update_all(predicate=newer).when_not_matched_insert_all()
    merger.execute()
    if table.version() == before:
        # delta-rs skips the commit of a merge that changed nothing, and with it the txn:
        # record the batch with an empty append so a re-run still knows it is done.
        write_deltalake(uri, data.slice(0, 0), mode="append", storage_options=storage_options,
                        commit_properties=_commit(batch_id, "merge"))
    return WriteResult(uri, batch_id, data.num_rows, _version(uri, storage_options))


def overwrite_partition(
    uri: str,
    data: pa.Table,
    *,
    predicate: str,
    batch_id: str,
    partition_by: list[str] | None = None,
    storage_options: dict | None = None,
) -> WriteResult:
    """Replace the rows matching ``predicate`` (e.g. ``report_date = '2025-06-01'``) atomically."""
    if batch_committed(uri, batch_id, storage_options):
        return WriteResult(uri, batch_id, 0, _version(uri, storage_options), skipped=True)
    exists = try_open(uri, storage_options) is not None
    write_deltalake(
        uri,
        data,
        mode="overwrite",
        predicate=predicate if exists else None,
        partition_by=partition_by or None,
        storage_options=storage_options,
        commit_properties=_commit(batch_id, "overwrite_partition"),
    )
    return WriteResult(uri, batch_id, data.num_rows, _version(uri, storage_options))


def replace(uri: str, data: pa.Table, *, batch_id: str, storage_options: dict | None = None,
            partition_by: list[str] | None = None) -> WriteResult:
    """Overwrite the whole table (gold publishes); schema changes are allowed here only.
    Replacing with a batch already committed (a retried publish of the same build) is a no-op."""
    if batch_committed(uri, batch_id, storage_options):
        return WriteResult(uri, batch_id, 0, _version(uri, storage_options), skipped=True)
    write_deltalake(
        uri,
        data,
        mode="overwrite",
        schema_mode="overwrite",
        partition_by=partition_by or None,
        storage_options=storage_options,
        commit_properties=_commit(batch_id, "replace"),
    )
    return WriteResult(uri, batch_id, data.num_rows, _version(uri, storage_options))


def read(uri: str, *, version: int | None = None, columns: list[str] | None = None,
         storage_options: dict | None = None) -> pa.Table:
    """Read a table, optionally as of an earlier ``version`` (time travel)."""
    table = DeltaTable(uri, version=version, storage_options=storage_options)
    return table.to_pyarrow_table(columns=columns)


def history(uri: str, storage_options: dict | None = None) -> list[dict]:
    return DeltaTable(uri, storage_options=storage_options).history()


def _version(uri: str, storage_options: dict | None) -> int | None:
    table = try_open(uri, storage_options)
    return None if table is None else table.version()


def batches(tables: Iterable[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatchReader:
    """Stream batches into a writer without materialising them all (large ingests)."""
    return pa.RecordBatchReader.from_batches(schema, tables)
