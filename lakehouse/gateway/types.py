"""DuckDB result types as Trino types, and how each value is written on the wire.

Two things must agree for a client to read a result the way it reads Trino's:

* the column's **type signature**: the ``trino`` client builds its value mappers from
  ``typeSignature`` (``rawType`` + ``arguments``) and ``cursor.description`` reads varchar
  length and decimal precision from the arguments, so every type carries its full signature;
* the **JSON form of each value**: decimals as strings, dates as ``YYYY-MM-DD``, timestamps as
  ``YYYY-MM-DD HH:MM:SS.ffffff`` (plus `` UTC`` with a time zone), varbinary as base64, doubles
  as numbers or ``"NaN"``/``"Infinity"``, arrays as lists, rows as lists, maps as objects.

Values are rendered by DuckDB itself (``json_array`` over the page, vectorised, outside the
GIL) from the SQL expression :attr:`TrinoType.encode` builds, never row by row in Python:
that is what keeps a million-row result streaming at DuckDB speed.

Types without a faithful Trino counterpart (intervals, time with time zone, unions, bit
strings, huge unsigned integers) are sent as ``varchar``; see ``infra/trino/GATEWAY.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

VARCHAR_MAX = 2147483647  # Trino's unbounded varchar length, as its type signature carries it
TIMESTAMP_PRECISION = 6  # DuckDB keeps microseconds; the gateway reports what it sends

# java.sql.Types codes, for system.jdbc.columns (DBeaver and other JDBC tools read them).
JDBC_TYPES = {
    "boolean": 16, "tinyint": -6, "smallint": 5, "integer": 4, "bigint": -5, "real": 7,
    "double": 8, "decimal": 3, "varchar": 12, "varbinary": -3, "date": 91, "time": 92,
    "timestamp": 93, "timestamp with time zone": 2014, "array": 2003, "json": 12, "uuid": 1111,
}
JAVA_OBJECT = 2000


@dataclass(frozen=True)
class TrinoType:
    """One result column's Trino type: its display name, signature and wire encoding."""

    name: str  # as Trino displays it: varchar, decimal(10,2), timestamp(6) with time zone
    raw: str  # the signature's rawType
    arguments: tuple[dict[str, Any], ...] = ()
    encode: Callable[[str], str] = field(default=lambda x: x, compare=False, repr=False)

    def signature(self) -> dict[str, Any]:
        return {"rawType": self.raw, "arguments": list(self.arguments)}

    def column(self, name: str) -> dict[str, Any]:
        """The ``columns`` entry of a ``QueryResults`` response."""
        return {"name": name, "type": self.name, "typeSignature": self.signature()}

    @property
    def jdbc_type(self) -> int:
        return JDBC_TYPES.get(self.raw, JAVA_OBJECT)

    @property
    def precision(self) -> int | None:
        """Length, precision or fractional-second digits: the first LONG argument, if any."""
        longs = [a["value"] for a in self.arguments if a["kind"] == "LONG"]
        return longs[0] if longs else None

    @property
    def scale(self) -> int | None:
        longs = [a["value"] for a in self.arguments if a["kind"] == "LONG"]
        return longs[1] if len(longs) > 1 else None


def _long(value: int) -> dict[str, Any]:
    return {"kind": "LONG", "value": value}


def _as_text(x: str) -> str:
    return f"CAST({x} AS VARCHAR)"


def _double(x: str) -> str:
    # DuckDB's JSON writes NaN and Infinity bare (not JSON); Trino sends them as strings.
    return (f"CASE WHEN {x} IS NULL OR isfinite({x}) THEN to_json({x}) WHEN isnan({x}) THEN '\"NaN\"'::JSON "
            f"WHEN {x} > 0 THEN '\"Infinity\"'::JSON ELSE '\"-Infinity\"'::JSON END")


def _simple(name: str) -> TrinoType:
    return TrinoType(name, name)


VARCHAR = TrinoType("varchar", "varchar", (_long(VARCHAR_MAX),))
TEXT_VARCHAR = TrinoType("varchar", "varchar", (_long(VARCHAR_MAX),), _as_text)
BIGINT = _simple("bigint")
INTEGER = _simple("integer")
BOOLEAN = _simple("boolean")

_SCALARS: dict[str, TrinoType] = {
    "boolean": BOOLEAN,
    "tinyint": _simple("tinyint"),
    "smallint": _simple("smallint"),
    "integer": INTEGER,
    "bigint": BIGINT,
    "utinyint": _simple("smallint"),
    "usmallint": _simple("integer"),
    "uinteger": BIGINT,
    "ubigint": BIGINT,  # DuckDB's counts (histogram, …); JSON numbers carry any size
    "float": TrinoType("real", "real", (), _double),
    "double": TrinoType("double", "double", (), _double),
    "varchar": VARCHAR,
    "uuid": TrinoType("uuid", "uuid", (), _as_text),
    "blob": TrinoType("varbinary", "varbinary", (), lambda x: f"to_base64({x})"),
    "date": TrinoType("date", "date", (), _as_text),
    "time": TrinoType(f"time({TIMESTAMP_PRECISION})", "time", (_long(TIMESTAMP_PRECISION),),
                      lambda x: f"strftime(DATE '1970-01-01' + {x}, '%H:%M:%S.%f')"),
}
_TIMESTAMP = TrinoType(f"timestamp({TIMESTAMP_PRECISION})", "timestamp", (_long(TIMESTAMP_PRECISION),),
                       lambda x: f"strftime(CAST({x} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%f')")
# The gateway's DuckDB session runs in UTC, so strftime renders the instant in UTC.
_TIMESTAMP_TZ = TrinoType(f"timestamp({TIMESTAMP_PRECISION}) with time zone", "timestamp with time zone",
                          (_long(TIMESTAMP_PRECISION),), lambda x: f"strftime({x}, '%Y-%m-%d %H:%M:%S.%f UTC')")


def _decimal(precision: int, scale: int) -> TrinoType:
    return TrinoType(f"decimal({precision},{scale})", "decimal", (_long(precision), _long(scale)), _as_text)


def _quote_field(name: str) -> str:
    return name if name.isidentifier() and name.islower() else '"' + name.replace('"', '""') + '"'


def _array(element: TrinoType) -> TrinoType:
    def encode(x: str) -> str:
        inner = element.encode("e")
        return f"to_json({x})" if inner == "e" else f"to_json(list_transform({x}, lambda e: {inner}))"

    return TrinoType(f"array({element.name})", "array", ({"kind": "TYPE", "value": element.signature()},), encode)


def _row(fields: list[tuple[str, TrinoType]]) -> TrinoType:
    def encode(x: str) -> str:
        values = ", ".join(t.encode(f"struct_extract({x}, '{n.replace(chr(39), chr(39) * 2)}')") for n, t in fields)
        return f"CASE WHEN {x} IS NULL THEN NULL ELSE json_array({values}) END"

    arguments = tuple({"kind": "NAMED_TYPE", "value": {"fieldName": {"name": n}, "typeSignature": t.signature()}}
                      for n, t in fields)
    display = ", ".join(f"{_quote_field(n)} {t.name}" for n, t in fields)
    return TrinoType(f"row({display})", "row", arguments, encode)


def _map(key: TrinoType, value: TrinoType) -> TrinoType:
    arguments = ({"kind": "TYPE", "value": key.signature()}, {"kind": "TYPE", "value": value.signature()})
    return TrinoType(f"map({key.name}, {value.name})", "map", arguments, lambda x: f"to_json({x})")


def trino_type(duck: Any) -> TrinoType:
    """The Trino type for a ``duckdb.DuckDBPyType`` (from ``cursor.description``)."""
    kind = duck.id
    if str(duck) == "JSON":
        return TrinoType("json", "json", (), _as_text)
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "decimal":
        children = dict(duck.children)
        return _decimal(children["precision"], children["scale"])
    if kind in ("hugeint", "uhugeint"):
        return _decimal(38, 0)
    if kind in ("timestamp", "timestamp_s", "timestamp_ms", "timestamp_ns"):
        return _TIMESTAMP
    if kind == "timestamp with time zone":
        return _TIMESTAMP_TZ
    if kind in ("list", "array"):
        return _array(trino_type(dict(duck.children)["child"]))
    if kind == "struct":
        return _row([(name, trino_type(child)) for name, child in duck.children])
    if kind == "map":
        children = dict(duck.children)
        return _map(trino_type(children["key"]), trino_type(children["value"]))
    # enum, interval, time with time zone, union, bit, varint: sent as their text form.
    return TEXT_VARCHAR


def row_encoder(types: list[TrinoType], columns: list[str]) -> str:
    """The SQL expression that renders one row as the JSON array Trino sends."""
    return "json_array(" + ", ".join(t.encode(c) for t, c in zip(types, columns, strict=True)) + ")"


__all__ = ["BIGINT", "BOOLEAN", "INTEGER", "TEXT_VARCHAR", "VARCHAR", "TrinoType", "row_encoder", "trino_type"]
