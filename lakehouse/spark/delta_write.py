"""Task side of a write: turn one Spark task's Arrow batches into Parquet data files.

Each task aligns its batches to the table schema, checks the rows against the write's
rules (``overwrite_partition`` predicate, CHECK constraints, NOT NULL), splits them by
partition value into ``col=value/`` folders and writes Parquet files named after the write
(``part-<task>-<write_id>-…``), collecting the statistics the Delta log wants. It commits
nothing: the driver does that once, from the list of files every task returns. If the task
fails, it deletes what it wrote before re-raising; the write id in each file name lets the
driver sweep anything a killed task could not.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.spark.delta_scan import cast_column
from lakehouse.spark.errors import DeltaDataError
from lakehouse.spark.storage import TableStore, partition_dir, partition_string

STRING_STATS_MAX = 32


@dataclass(frozen=True)
class WrittenFile:
    """One Parquet file written by a task: becomes an ``add`` action at commit."""

    path: str  # raw relative path inside the table
    size: int
    partition_values: dict[str, str | None]
    modification_time: int
    stats: str
    rows: int


@dataclass(frozen=True)
class FileRules:
    """What every written row must satisfy (all SQL in DuckDB's dialect)."""

    must_match: str | None = None  # overwrite_partition predicate: rows must be inside it
    constraints: tuple[tuple[str, str], ...] = ()  # (name, CHECK expression)
    not_null: tuple[str, ...] = ()


def split_by_partition(table: pa.Table, columns: list[str]) -> Iterator[tuple[tuple, pa.Table]]:
    """``(values, rows)`` per distinct partition value in ``table`` (nulls included)."""
    if not columns:
        yield (), table
        return
    if table.num_rows == 0:
        return
    codes, dictionaries = [], []
    for name in columns:
        column = table.column(name).combine_chunks()
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        codes.append(encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64))
        dictionaries.append(encoded.dictionary)
    key = codes[0].copy()
    for code, dictionary in zip(codes[1:], dictionaries[1:], strict=True):
        key = key * max(len(dictionary), 1) + code
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    for start, end in zip([0, *bounds], [*bounds, len(order)], strict=True):
        rows = order[start:end]
        first = rows[0]
        values = tuple(d[int(c[first])].as_py() for c, d in zip(codes, dictionaries, strict=True))
        yield values, table.take(pa.array(rows))


class _ColumnStats:
    """Running min / max / null count of one column, as the Delta log wants them."""

    def __init__(self, kind: pa.DataType) -> None:
        self.kind = kind
        self.nulls = 0
        self.low: Any = None
        self.high: Any = None
        self.bounded = _has_bounds(kind)

    def update(self, column: pa.Array) -> None:
        self.nulls += column.null_count
        if not self.bounded or column.null_count == len(column):
            return
        if pa.types.is_floating(self.kind) and not pc.all(pc.is_finite(column)).as_py():
            self.bounded = False  # NaN/inf: no usable bounds
            return
        bounds = pc.min_max(column)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)


def _has_bounds(kind: pa.DataType) -> bool:
    t = pa.types
    return (t.is_integer(kind) or t.is_floating(kind) or t.is_string(kind)
            or t.is_large_string(kind) or t.is_date(kind) or t.is_timestamp(kind))


def _stat_value(value: Any, upper: bool) -> Any:
    if isinstance(value, datetime):
        tz = value.tzinfo
        plain = value.astimezone(UTC).replace(tzinfo=None) if tz else value
        floor = plain.replace(microsecond=plain.microsecond // 1000 * 1000)
        if upper and floor != plain:
            floor += timedelta(milliseconds=1)  # ms precision must still bound the data
        text = floor.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        return f"{text}Z" if tz else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) > STRING_STATS_MAX:
        return None if upper else value[:STRING_STATS_MAX]
    return value


def stats_json(rows: int, stats: dict[str, _ColumnStats]) -> str:
    bounded = {n: s for n, s in stats.items() if s.bounded and s.low is not None}
    low = {n: _stat_value(s.low, False) for n, s in bounded.items()}
    high = {n: _stat_value(s.high, True) for n, s in bounded.items()}
    return json.dumps({
        "numRecords": rows,
        "minValues": {k: v for k, v in low.items() if v is not None},
        "maxValues": {k: v for k, v in high.items() if v is not None},
        "nullCount": {n: s.nulls for n, s in stats.items()},
    })


@dataclass
class _OpenFile:
    path: str
    partition_values: dict[str, str | None]
    handle: Any
    writer: pq.ParquetWriter
    stats: dict[str, _ColumnStats]
    rows: int = 0
    bytes: int = 0


@dataclass
class TaskWriter:
    """Writes one task's rows; ``finish`` returns the files, ``discard`` deletes them."""

    store: TableStore
    schema: pa.Schema  # the table's columns after this write, in order
    partition_by: list[str]
    write_id: str
    task: str  # e.g. "00003-a0": partition id and attempt
    rules: FileRules = field(default_factory=FileRules)
    target_file_bytes: int = 256 * 1024 * 1024
    files: list[WrittenFile] = field(default_factory=list)
    _open: dict[tuple, _OpenFile] = field(default_factory=dict)
    _written_paths: list[str] = field(default_factory=list)
    _sequence: int = 0
    _duck: Any = None

    @property
    def file_schema(self) -> pa.Schema:
        return pa.schema([f for f in self.schema if f.name not in self.partition_by])

    def write(self, batch: pa.RecordBatch) -> None:
        """Check one Spark batch against the rules, then write it."""
        table = align(pa.Table.from_batches([batch]), self.schema)
        if table.num_rows:
            self._check(table)
            self.write_rows(table)

    def write_rows(self, table: pa.Table) -> None:
        """Write rows already known to be valid (e.g. rows a rewrite keeps)."""
        table = align(table, self.schema)
        for values, rows in split_by_partition(table, self.partition_by):
            if rows.num_rows:
                self._append(values, rows.drop_columns(self.partition_by))

    def _append(self, values: tuple, rows: pa.Table) -> None:
        current = self._open.get(values)
        if current is None:
            current = self._start(values)
        current.writer.write_table(rows)
        for name, stats in current.stats.items():
            stats.update(rows.column(name).combine_chunks())
        current.rows += rows.num_rows
        current.bytes += rows.nbytes
        if current.bytes >= self.target_file_bytes:
            self._close(values)

    def _start(self, values: tuple) -> _OpenFile:
        folder = partition_dir(self.partition_by, values)
        name = f"part-{self.task}-{self.write_id}-{self._sequence:03d}.c000.snappy.parquet"
        self._sequence += 1
        path = f"{folder}/{name}" if folder else name
        self._written_paths.append(path)
        handle = self.store.open_output(path)
        writer = pq.ParquetWriter(handle, self.file_schema, compression="snappy")
        # Top-level primitive columns only: nested statistics are nested objects in Delta.
        stats = {f.name: _ColumnStats(f.type) for f in self.file_schema
                 if not pa.types.is_nested(f.type)}
        partition_values = {c: partition_string(v) for c, v in zip(self.partition_by, values,
                                                                    strict=True)}
        opened = _OpenFile(path, partition_values, handle, writer, stats)
        self._open[values] = opened
        return opened

    def _close(self, values: tuple) -> None:
        current = self._open.pop(values)
        current.writer.close()
        size = current.handle.tell()
        current.handle.close()
        self.files.append(WrittenFile(current.path, int(size), current.partition_values,
                                      int(time.time() * 1000), stats_json(current.rows,
                                                                          current.stats),
                                      current.rows))

    def finish(self) -> list[WrittenFile]:
        for values in list(self._open):
            self._close(values)
        return self.files

    def discard(self) -> None:
        """Best effort: close and delete every file this task started."""
        for current in self._open.values():
            with contextlib.suppress(Exception):  # cleanup must go on
                current.writer.close()
                current.handle.close()
        self._open.clear()
        for path in self._written_paths:
            self.store.delete(path)

    def _check(self, table: pa.Table) -> None:
        for name in self.rules.not_null:
            nulls = table.column(name).null_count
            if nulls:
                raise DeltaDataError(f"{nulls} NULL value(s) in NOT NULL column {name!r}")
        sql = []
        if self.rules.must_match:
            sql.append(("overwrite predicate", f"NOT coalesce(({self.rules.must_match}), false)"))
        for name, expression in self.rules.constraints:
            sql.append((f"CHECK constraint {name}", f"NOT coalesce(({expression}), true)"))
        if not sql:
            return
        if self._duck is None:
            self._duck = duck_connection()
        self._duck.register("written_rows", table)
        try:
            for what, condition in sql:
                bad = self._duck.execute(
                    f"SELECT count(*) FROM written_rows WHERE {condition}").fetchone()[0]
                if bad:
                    rule = self.rules.must_match if what == "overwrite predicate" else what
                    raise DeltaDataError(f"{bad} written row(s) violate the {what}: {rule}")
        finally:
            self._duck.unregister("written_rows")


def align(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows of ``table`` in the order and types of ``schema``; missing columns are NULL.
    Column names match case-insensitively (Delta and Spark are case-insensitive)."""
    by_name = {name.lower(): i for i, name in enumerate(table.column_names)}
    arrays = []
    for target in schema:
        index = by_name.get(target.name.lower())
        if index is None:
            arrays.append(pa.nulls(table.num_rows, target.type))
        else:
            arrays.append(cast_column(table.column(index), target.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def duck_connection() -> Any:
    """An in-memory DuckDB for predicates and CHECK constraints, in UTC like Spark here."""
    import duckdb

    con = duckdb.connect()
    with contextlib.suppress(duckdb.Error):  # no ICU: zone-less literals stay as written
        con.execute("SET TimeZone = 'UTC'")
    return con
