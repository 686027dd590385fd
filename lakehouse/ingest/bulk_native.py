"""The fast half of the bulk CSV path: values typed where they are certain, written as Parquet.

Every fast value answers one question for one delivered text: *is this exactly what*
``parse.typed_expr`` *makes of it?* It is that value when it is sure and NULL when it is not.
A row with a NULL where the Polars path might have a value, or might reject the row, is not
*settled*: it stays out of the fast Parquet and ``bulk_csv`` runs ``parse.parse`` itself on it.
The fast values only cover what real exports contain, and never read a text differently
(``tests/ingest/test_bulk_csv.py`` fuzzes them against ``typed_expr``). Per type:

* int, bigint, double, decimal, date: ``typed_expr``'s own Polars operations without its
  clean-up (``strip_chars`` and a regex on every value, most of its cost), so a padded text
  fails or reads the same. Integers are cast straight from the text (Polars' integer parser
  takes ``[+-]digits`` only, which the double route reads exactly; bigints up to 2^53, where
  the double is still exact), so "12,0" rooms or "1e3" go to ``parse``. A column where more
  than 0.1% of the values fail is read again *thoroughly*: trimmed and without thousands
  separators, as ``parse`` reads it (only the blanks inside a number are left to it);
* text: ``parse._clean``, but ``strip_chars`` only on values that do not start and end with
  printable ASCII;
* booleans and timestamps: ``typed_expr`` itself (rare, and timestamps are intricate).

DuckDB's typed CSV reader and casts were measured and rejected for this: its integer parser
rounds "12.5" to 13 and reads "1_000" and "0x10", its double parser reads "1_000" and "+-1",
its strptime reads "infinity" and "epoch" as 1900-01-01, all of which the Polars path rejects.
Writing the fast rows of the benchmark file takes Polars ~0.45 s, DuckDB's ``COPY`` ~1.2 s.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake.transaction import AddAction

from lakehouse.contracts import Column, Contract
from lakehouse.ingest.parse import ParseOptions, typed_expr

SETTLED = "_settled"  # frame column: the fast values are the row's final values
_RETRY_SHARE = 0.001  # share of a column's values failing the quick read above which it is read thoroughly
_STATS_COLUMNS = 32  # delta.dataSkippingNumIndexedCols default: stats for the first 32 columns
_COMPRESSION = "snappy"  # as delta-rs writes the Polars path's files
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def typed(name: str) -> str:
    """The frame column holding ``name``'s fast value (contract names are lower-case)."""
    return "T:" + name


def is_text(column: Column) -> bool:
    return column.type in ("string", "json")


def _numeric(column: Column) -> bool:
    return column.type in ("int", "bigint", "double") or column.decimal_precision is not None


# --------------------------------------------------------------------------- values


def _number_text(text: pl.Expr, options: ParseOptions) -> pl.Expr:
    """``parse._number_text`` without its whitespace removal."""
    if options.decimal_comma:
        return text.str.replace_all(".", "", literal=True).str.replace_all(",", ".", literal=True)
    return text.str.replace_all(",", "", literal=True)


def _printable_ascii(text: pl.Expr) -> pl.Expr:
    """First byte in 33..126 (byte-wise comparison: a non-ASCII lead byte is above 0x7f)."""
    return (text >= "!") & (text < "\x7f")


def _clean(raw: pl.Expr) -> pl.Expr:
    """``parse._clean``, but ``strip_chars`` (which copies every value) only runs on values
    that do not start and end with printable ASCII; the others have nothing to strip."""
    plain = _printable_ascii(raw) & _printable_ascii(raw.str.tail(1))
    stripped = pl.when(~plain).then(raw).str.strip_chars()  # NULL, so skipped, where plain
    return pl.when(plain).then(raw).otherwise(pl.when(stripped != "").then(stripped))


def fast_expr(column: Column, options: ParseOptions, *, thorough: bool = False) -> pl.Expr:
    """The fast value of delivered ``column`` (see the module notes). The quick form reads
    numbers and dates as they stand; the ``thorough`` one first trims them and drops thousands
    separators as ``parse`` does (decimal commas are always read: "12.5" means 125 there)."""
    if column.type in ("boolean", "timestamp"):
        return typed_expr(column, options)
    raw = pl.col(column.name)
    if is_text(column):
        return _clean(raw)
    text = _clean(raw) if thorough else raw
    fractional = column.type not in ("int", "bigint", "date")
    number = _number_text(text, options) if thorough or (options.decimal_comma and fractional) else text
    if column.type == "int":
        return number.cast(pl.Int32, strict=False)
    if column.type == "bigint":
        value = number.cast(pl.Int64, strict=False)
        return pl.when(value.is_between(-(2**53), 2**53)).then(value)
    if column.type == "double":
        return number.cast(pl.Float64, strict=False)
    if column.decimal_precision:
        precision, scale = column.decimal_precision
        return number.cast(pl.Float64, strict=False).round(scale).cast(pl.Decimal(precision, scale), strict=False)
    if column.type == "date":
        fmt = column.source_format or "%Y-%m-%d"
        value = text.str.slice(0, 10 if fmt == "%Y-%m-%d" else None).str.strptime(pl.Date, fmt, strict=False)
        # Untrimmed, a leading blank would shift the ISO window parse cuts after trimming.
        return value if thorough else pl.when(_printable_ascii(raw)).then(value)
    raise ValueError(f"unsupported type {column.type}")  # pragma: no cover - the model rejects it


def settled_expr(contract: Contract) -> pl.Expr:
    """Every required column has a value and no other lost a delivered one (blank text is
    NULL on both paths, so a nullable text column always settles)."""
    conditions = [
        pl.col(typed(c.name)).is_not_null() if not c.nullable
        else pl.col(typed(c.name)).is_not_null() | pl.col(c.name).is_null()
        for c in contract.columns
        if not (c.nullable and is_text(c))
    ]
    return pl.all_horizontal(conditions) if conditions else pl.lit(True)


def fast_values(frame: pl.DataFrame, contract: Contract, options: ParseOptions) -> pl.DataFrame:
    """``frame`` plus every column's fast value (``typed(name)``) and ``_settled``. Numbers and
    dates are read quickly, and thoroughly again in a column where more than 0.1% of the
    delivered values failed (padded or grouped numbers, say): rare failures are left to
    ``parse``, systematic ones would make most rows slow."""
    frame = frame.with_columns(fast_expr(c, options).alias(typed(c.name)) for c in contract.columns)
    retried = [c for c in contract.columns if _numeric(c) or c.type == "date"]
    if retried and frame.height:
        failed = frame.select(
            (pl.col(typed(c.name)).is_null() & pl.col(c.name).is_not_null()).sum().alias(c.name) for c in retried
        ).row(0, named=True)
        again = [c for c in retried if failed[c.name] > _RETRY_SHARE * frame.height]
        frame = frame.with_columns(fast_expr(c, options, thorough=True).alias(typed(c.name)) for c in again)
    return frame.with_columns(settled_expr(contract).alias(SETTLED))


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Lineage:
    """The three lineage columns, the same for every row of a batch."""

    batch_id: str
    source: str
    ingested_at: datetime

    def columns(self) -> list[pl.Expr]:
        return [
            pl.lit(self.batch_id, pl.String).alias("_batch_id"),
            pl.lit(self.ingested_at).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
            pl.lit(self.source, pl.String).alias("_source"),
        ]


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    rows: int
    size: int
    bounds: dict[str, tuple[object, object]]  # column -> physical (min, max), where the footer has them
    null_counts: dict[str, int]
    partition_values: dict[str, str | None]


def _file_facts(path: Path, partition_values: dict[str, str | None], no_bounds: set[str]) -> WrittenFile:
    """Row count, size and per-column min/max/nulls from the Parquet footer (row groups
    combined), so no data is read back for the Delta log. A column gets bounds only if every
    row group with a value has them. Physical values (``min_raw``): pyarrow's logical ones
    import pandas for a zoned timestamp, ~0.7 s on a worker's first file."""
    meta = pq.read_metadata(path)
    bounds: dict[str, tuple[object, object]] = {}
    nulls: dict[str, int] = {}
    for index in range(meta.num_columns):
        name = meta.schema.column(index).name
        stats = [meta.row_group(g).column(index).statistics for g in range(meta.num_row_groups)]
        if any(s is None or not s.has_null_count for s in stats):
            continue
        nulls[name] = sum(s.null_count for s in stats)
        valued = [s for s in stats if s.num_values]  # num_values: non-null values
        if name not in no_bounds and valued and all(s.has_min_max for s in valued):
            bounds[name] = (min(s.min_raw for s in valued), max(s.max_raw for s in valued))
    return WrittenFile(path, meta.num_rows, path.stat().st_size, bounds, nulls, partition_values)


def _partition_text(value: object) -> str | None:
    """A partition value as the Delta log stores it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_parquet(rows: pl.LazyFrame, folder: Path, contract: Contract) -> list[WrittenFile]:
    """Write ``rows`` (output columns only) under ``folder``: one file, or one per partition
    in hive-style folders (partition columns live in the Delta log, not in the files). Float
    columns holding NaN get no min/max: Spark orders NaN above every number."""
    floats = [n for n, t in rows.collect_schema().items() if t == pl.Float64]
    folder.mkdir(parents=True, exist_ok=True)
    if not contract.partition_by:
        path = folder / f"part-{uuid.uuid4().hex}.parquet"
        rows.sink_parquet(path, compression=_COMPRESSION, maintain_order=False)
        facts = _file_facts(path, {}, _nan_columns(pl.scan_parquet(path), floats))
        if not facts.rows:
            path.unlink()
            return []
        return [facts]
    written = []
    keys = list(contract.partition_by)
    for key, group in rows.collect().partition_by(keys, as_dict=True, include_key=False).items():
        values = {k: _partition_text(v) for k, v in zip(keys, key, strict=True)}
        sub = folder.joinpath(*(f"{k}={quote(v, safe='') if v is not None else '__HIVE_DEFAULT_PARTITION__'}"
                                for k, v in values.items()))
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"part-{uuid.uuid4().hex}.parquet"
        group.write_parquet(path, compression=_COMPRESSION)
        written.append(_file_facts(path, values, _nan_columns(group.lazy(), floats)))
    return written


def _nan_columns(rows: pl.LazyFrame, floats: list[str]) -> set[str]:
    if not floats:
        return set()
    flags = rows.select(pl.col(n).is_nan().any() for n in floats).collect().row(0)
    return {n for n, flag in zip(floats, flags, strict=True) if flag}


def check_parquet_schema(files: Sequence[WrittenFile], expected: pa.Schema) -> None:
    """delta-rs commits add actions without opening the files: make sure what was written is
    what the table declares (int32 vs int64, timestamp unit and zone, decimal precision).
    Polars labels text ``large_string`` in the file; Parquet stores both alike."""
    want = [(f.name, f.type) for f in expected]
    for file in files[:1]:  # one writer, one schema
        have = [(f.name, pa.string() if f.type == pa.large_string() else f.type) for f in pq.read_schema(file.path)]
        if have != want:
            raise TypeError(f"wrote {have}, the table needs {want}")


# --------------------------------------------------------------------------- add actions


def _timestamp_stat(micros: int, upper: bool) -> str:
    """Delta keeps millisecond timestamp stats: floor the minimum, ceil the maximum, so the
    bounds still hold for microsecond data."""
    millis = -(-micros // 1000) if upper else micros // 1000
    bound = _EPOCH + timedelta(milliseconds=millis)
    return bound.strftime("%Y-%m-%dT%H:%M:%S.") + f"{bound.microsecond // 1000:03d}Z"


def _stat_value(value: object, dtype: pa.DataType, upper: bool) -> object | None:
    """A footer statistic (physical value) -> the JSON value Delta expects; None where no
    exact bound can be given (decimals, non-finite doubles): a wrong bound would skip live
    files. ``check_parquet_schema`` has made sure the physical types are the table's."""
    if pa.types.is_integer(dtype) or pa.types.is_boolean(dtype):
        return value
    if pa.types.is_floating(dtype):
        return value if math.isfinite(value) else None  # type: ignore[arg-type]
    if pa.types.is_date32(dtype):
        return (_EPOCH.date() + timedelta(days=value)).isoformat()  # type: ignore[arg-type]
    if pa.types.is_timestamp(dtype) and dtype.unit == "us":
        return _timestamp_stat(value, upper)  # type: ignore[arg-type]
    if pa.types.is_string(dtype):  # Polars cuts long bounds at a character boundary
        return value.decode("utf-8") if isinstance(value, bytes) else value
    return None


def delta_stats(file: WrittenFile, schema: pa.Schema) -> str:
    """numRecords, nullCount and min/max, in the form delta-rs writes them."""
    types = {f.name: f.type for f in list(schema)[:_STATS_COLUMNS]}
    mins, maxs = {}, {}
    for name, (low, high) in file.bounds.items():
        if name in types:
            try:
                low, high = _stat_value(low, types[name], upper=False), _stat_value(high, types[name], upper=True)
            except UnicodeDecodeError:  # were a bound cut inside a character: give none
                continue
            if low is not None and high is not None:
                mins[name], maxs[name] = low, high
    nulls = {name: count for name, count in file.null_counts.items() if name in types}
    return json.dumps(
        {"numRecords": file.rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls},
        ensure_ascii=False, separators=(",", ":"),
    )


def add_actions(files: Sequence[WrittenFile], table_dir: Path, schema: pa.Schema) -> list[AddAction]:
    """Paths are relative to the table and URI-encoded (hive folders may hold ``%``)."""
    return [
        AddAction(
            path=quote(file.path.relative_to(table_dir).as_posix(), safe="/="),
            size=file.size,
            partition_values=file.partition_values,
            modification_time=int(file.path.stat().st_mtime * 1000),
            data_change=True,
            stats=delta_stats(file, schema),
        )
        for file in files
    ]

