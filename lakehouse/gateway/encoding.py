"""Result pages as the JSON rows Trino sends, by the cheaper of two equal encoders.

* **DuckDB** renders big pages: the page's Arrow batch is scanned by ``json_array(...)``
  with each column's encoder from ``types`` (vectorised, parallel, outside the GIL; about a
  million rows a second here). Registering the batch and binding that query costs ~1 ms,
  which is most of a small query's time.
* **Python** renders small pages (up to :data:`SMALL_PAGE_ROWS` rows of scalar columns)
  with Arrow compute per column and ``orjson``: tens of microseconds.

Both write the same values (``tests/gateway/test_encoding.py`` decodes both and compares
them for every type); nested types and rare units always take the DuckDB path.
"""

from __future__ import annotations

import base64
import math

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.gateway.errors import TrinoError
from lakehouse.gateway.types import TrinoType, row_encoder

SMALL_PAGE_ROWS = 2048
_PAGE_VIEW = "__ioc_page"
_INTEGERS = {"tinyint", "smallint", "integer", "bigint"}


def _python_values(array: pa.Array, trino: TrinoType) -> list | None:
    """One column's JSON-ready values, or None when this column needs the DuckDB encoder."""
    kind, arrow = trino.raw, array.type
    if kind == "boolean" and pa.types.is_boolean(arrow) or kind in _INTEGERS and pa.types.is_integer(arrow):
        return array.to_pylist()
    if kind in ("double", "real") and pa.types.is_floating(arrow):
        return [v if v is None or math.isfinite(v) else ("NaN" if math.isnan(v) else "Infinity" if v > 0 else "-Infinity")
                for v in array.to_pylist()]
    if kind in ("varchar", "uuid", "json") and (pa.types.is_string(arrow) or pa.types.is_large_string(arrow)):
        return array.to_pylist()
    if kind in ("decimal", "date") and (pa.types.is_decimal(arrow) or pa.types.is_date32(arrow)):
        return array.cast(pa.string()).to_pylist()
    if kind == "timestamp" and pa.types.is_timestamp(arrow) and arrow.unit == "us" and arrow.tz is None:
        return pc.strftime(array, format="%Y-%m-%d %H:%M:%S").to_pylist()
    if kind == "timestamp with time zone" and pa.types.is_timestamp(arrow) and arrow.unit == "us" \
            and arrow.tz in ("UTC", "Etc/UTC"):
        return pc.strftime(array, format="%Y-%m-%d %H:%M:%S UTC").to_pylist()
    if kind == "time" and pa.types.is_time64(arrow) and arrow.unit == "us":
        return array.cast(pa.string()).to_pylist()
    if kind == "varbinary" and pa.types.is_binary(arrow):
        return [None if v is None else base64.b64encode(v).decode() for v in array.to_pylist()]
    return None


def encode_python(batch: pa.RecordBatch, types: list[TrinoType]) -> bytes | None:
    """``[..],[..]`` for a small batch of scalar columns; None when it cannot."""
    columns = []
    for array, trino in zip(batch.columns, types, strict=True):
        values = _python_values(array, trino)
        if values is None:
            return None
        columns.append(values)
    return orjson.dumps(list(zip(*columns)))[1:-1]


def encode_duckdb(batch: pa.RecordBatch, types: list[TrinoType], cursor: duckdb.DuckDBPyConnection) -> bytes:
    """``[..],[..]`` rendered by DuckDB's ``json_array`` over the batch."""
    names = [f"c{i}" for i in range(len(types))]
    renamed = pa.RecordBatch.from_arrays(batch.columns, names=names)
    try:
        cursor.register(_PAGE_VIEW, renamed)
        rendered = cursor.execute(f"SELECT {row_encoder(types, names)} FROM {_PAGE_VIEW}").fetch_arrow_table()
    except duckdb.Error as exc:
        raise TrinoError("GENERIC_INTERNAL_ERROR", f"Could not encode a result page: {exc}") from None
    finally:
        cursor.unregister(_PAGE_VIEW)
    strings = rendered.column(0).combine_chunks()
    if strings.type != pa.string():
        strings = strings.cast(pa.string())
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(strings)], pa.int32()), strings), ",")
    return joined[0].as_buffer().to_pybytes()


def encode_page(batch: pa.RecordBatch, types: list[TrinoType], cursor_factory) -> bytes:
    if not types or batch.num_rows == 0:
        return b""
    if batch.num_rows <= SMALL_PAGE_ROWS:
        small = encode_python(batch, types)
        if small is not None:
            return small
    cursor = cursor_factory()
    try:
        return encode_duckdb(batch, types, cursor)
    finally:
        cursor.close()


__all__ = ["SMALL_PAGE_ROWS", "encode_duckdb", "encode_page", "encode_python"]
