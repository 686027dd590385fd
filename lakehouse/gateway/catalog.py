"""What the gateway serves: the ``lake`` catalog (one schema per tier, one table per Delta
table under ``LAKE_ROOT``) and the ``system`` catalog's metadata tables, all as Trino names.

Tables are found on disk at each query (a table dbt publishes while the gateway runs is
queryable at once, nothing to register); columns are read from the Delta log through DuckDB
and cached until the table's log changes. The metadata tables (``information_schema``,
``system.jdbc``, ``system.metadata``) are built per query **for the user asking**, holding only
what the rules let that user see: SHOW, DBeaver's tree, Superset's table list and dbt's
relation cache never reveal a table the department cannot read.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from lakehouse.gateway.rules import AccessRules, Identity
from lakehouse.gateway.types import BIGINT, BOOLEAN, JDBC_TYPES, VARCHAR, TrinoType, trino_type
from lakehouse.lake.paths import Tier

INFORMATION_SCHEMA = "information_schema"
SYSTEM = "system"


@dataclass(frozen=True)
class Column:
    name: str
    type: TrinoType
    duck_type: str  # DuckDB's spelling, for casts (column masks keep the column's type)


# -- metadata table layouts (Trino's own column names; types as DuckDB reads the Arrow) ---------
_S, _L = pa.string(), pa.int64()
LAYOUTS: dict[tuple[str, str], list[tuple[str, pa.DataType]]] = {
    (INFORMATION_SCHEMA, "schemata"): [("catalog_name", _S), ("schema_name", _S)],
    (INFORMATION_SCHEMA, "tables"): [("table_catalog", _S), ("table_schema", _S), ("table_name", _S),
                                     ("table_type", _S), ("table_comment", _S)],
    (INFORMATION_SCHEMA, "columns"): [("table_catalog", _S), ("table_schema", _S), ("table_name", _S),
                                      ("column_name", _S), ("ordinal_position", _L), ("column_default", _S),
                                      ("is_nullable", _S), ("data_type", _S), ("comment", _S), ("extra_info", _S)],
    (INFORMATION_SCHEMA, "views"): [("table_catalog", _S), ("table_schema", _S), ("table_name", _S),
                                    ("view_owner", _S), ("view_definition", _S)],
    (INFORMATION_SCHEMA, "table_privileges"): [
        ("grantor", _S), ("grantor_type", _S), ("grantee", _S), ("grantee_type", _S), ("table_catalog", _S),
        ("table_schema", _S), ("table_name", _S), ("privilege_type", _S), ("is_grantable", _S),
        ("with_hierarchy", _S)],
    ("jdbc", "catalogs"): [("table_cat", _S)],
    ("jdbc", "schemas"): [("table_schem", _S), ("table_catalog", _S)],
    ("jdbc", "tables"): [("table_cat", _S), ("table_schem", _S), ("table_name", _S), ("table_type", _S),
                         ("remarks", _S), ("type_cat", _S), ("type_schem", _S), ("type_name", _S),
                         ("self_referencing_col_name", _S), ("ref_generation", _S)],
    ("jdbc", "columns"): [
        ("table_cat", _S), ("table_schem", _S), ("table_name", _S), ("column_name", _S), ("data_type", _L),
        ("type_name", _S), ("column_size", _L), ("buffer_length", _L), ("decimal_digits", _L),
        ("num_prec_radix", _L), ("nullable", _L), ("remarks", _S), ("column_def", _S), ("sql_data_type", _L),
        ("sql_datetime_sub", _L), ("char_octet_length", _L), ("ordinal_position", _L), ("is_nullable", _S),
        ("scope_catalog", _S), ("scope_schema", _S), ("scope_table", _S), ("source_data_type", _L),
        ("is_autoincrement", _S), ("is_generatedcolumn", _S)],
    ("jdbc", "table_types"): [("table_type", _S)],
    ("jdbc", "types"): [
        ("type_name", _S), ("data_type", _L), ("precision", _L), ("literal_prefix", _S), ("literal_suffix", _S),
        ("create_params", _S), ("nullable", _L), ("case_sensitive", pa.bool_()), ("searchable", _L),
        ("unsigned_attribute", pa.bool_()), ("fixed_prec_scale", pa.bool_()), ("auto_increment", pa.bool_()),
        ("local_type_name", _S), ("minimum_scale", _L), ("maximum_scale", _L), ("sql_data_type", _L),
        ("sql_datetime_sub", _L), ("num_prec_radix", _L)],
    ("metadata", "catalogs"): [("catalog_name", _S), ("connector_id", _S), ("connector_name", _S)],
    ("metadata", "table_comments"): [("catalog_name", _S), ("schema_name", _S), ("table_name", _S), ("comment", _S)],
    ("metadata", "materialized_views"): [
        ("catalog_name", _S), ("schema_name", _S), ("name", _S), ("storage_catalog", _S), ("storage_schema", _S),
        ("storage_table", _S), ("freshness", _S), ("last_fresh_time", pa.timestamp("us", tz="UTC")),
        ("comment", _S), ("definition", _S)],
}
SYSTEM_SCHEMAS = (INFORMATION_SCHEMA, "jdbc", "metadata")
_JDBC_TYPE_NAMES = ("boolean", "tinyint", "smallint", "integer", "bigint", "real", "double", "decimal",
                    "varchar", "varbinary", "date", "time", "timestamp", "timestamp with time zone", "json", "uuid")


def arrow_table(key: tuple[str, str], rows: list[tuple]) -> pa.Table:
    layout = LAYOUTS[key]
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in layout]
    return pa.table({name: pa.array(values, type) for (name, type), values in zip(layout, columns, strict=True)})


class LakeCatalog:
    """The ``lake`` catalog: tiers as schemas, Delta tables found on disk, cached columns."""

    def __init__(self, name: str, root: Path, describe: Callable[[str], list[Column]]):
        self.name = name
        self.root = Path(root)
        self._describe = describe
        self._columns: dict[str, tuple[int, list[Column]]] = {}
        self._lock = threading.Lock()

    @property
    def schemas(self) -> list[str]:
        return [tier.value for tier in Tier]

    def location(self, schema: str, table: str) -> str | None:
        """The table's folder when ``schema.table`` is a Delta table, else None."""
        if schema not in self.schemas or not table or "/" in table or table.startswith("."):
            return None
        folder = self.root / schema / table
        return str(folder) if (folder / "_delta_log").is_dir() else None

    def tables(self, schema: str) -> list[str]:
        folder = self.root / schema
        if schema not in self.schemas or not folder.is_dir():
            return []
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries if e.is_dir() and (Path(e.path) / "_delta_log").is_dir())

    def columns(self, schema: str, table: str) -> list[Column]:
        location = self.location(schema, table)
        if location is None:
            return []
        stamp = (Path(location) / "_delta_log").stat().st_mtime_ns  # a commit adds a log file
        with self._lock:
            cached = self._columns.get(location)
        if cached and cached[0] == stamp:
            return cached[1]
        columns = self._describe(location)
        with self._lock:
            self._columns[location] = (stamp, columns)
        return columns


def describe_with(cursor_factory: Callable) -> Callable[[str], list[Column]]:
    """A describer reading a Delta table's columns from its log (``LIMIT 0``: no data read)."""

    def describe(location: str) -> list[Column]:
        cursor = cursor_factory()
        try:
            quoted = location.replace("'", "''")
            description = cursor.execute(f"SELECT * FROM delta_scan('{quoted}') LIMIT 0").description
        finally:
            cursor.close()
        return [Column(name, trino_type(duck), str(duck)) for name, duck, *_ in description]

    return describe


class MetadataTables:
    """Builds the metadata tables one user may see, as Arrow tables the engine registers."""

    def __init__(self, lake: LakeCatalog):
        self.lake = lake

    @property
    def catalogs(self) -> list[str]:
        return [self.lake.name, SYSTEM]

    def schemas_of(self, catalog: str) -> list[str]:
        return [INFORMATION_SCHEMA, *self.lake.schemas] if catalog == self.lake.name else list(SYSTEM_SCHEMAS)

    def tables_of(self, catalog: str, schema: str) -> list[str]:
        if schema == INFORMATION_SCHEMA:
            return [t for (s, t) in LAYOUTS if s == INFORMATION_SCHEMA]
        if catalog == SYSTEM:
            return [t for (s, t) in LAYOUTS if s == schema]
        return self.lake.tables(schema)

    def columns_of(self, catalog: str, schema: str, table: str) -> list[Column]:
        if catalog == SYSTEM or schema == INFORMATION_SCHEMA:
            layout = LAYOUTS.get((schema, table), [])
            return [Column(n, _arrow_trino_type(t), str(t)) for n, t in layout]
        return self.lake.columns(schema, table)

    # -- what one identity sees -----------------------------------------------------------
    def visible_catalogs(self, rules: AccessRules, who: Identity) -> list[str]:
        return [c for c in self.catalogs if rules.may_see_catalog(who, c)]

    def visible_schemas(self, rules: AccessRules, who: Identity, catalog: str) -> list[str]:
        if not rules.may_see_catalog(who, catalog):
            return []
        return [s for s in self.schemas_of(catalog)
                if s == INFORMATION_SCHEMA or rules.may_see_schema(who, catalog, s)]

    def visible_tables(self, rules: AccessRules, who: Identity, catalog: str, schema: str) -> list[str]:
        if schema not in self.visible_schemas(rules, who, catalog):
            return []
        if schema == INFORMATION_SCHEMA:
            return self.tables_of(catalog, schema)
        return [t for t in self.tables_of(catalog, schema) if rules.table_grant(who, catalog, schema, t).privileges]

    def visible_columns(self, rules: AccessRules, who: Identity, catalog: str, schema: str,
                        table: str) -> list[Column]:
        columns = self.columns_of(catalog, schema, table)
        if schema == INFORMATION_SCHEMA:
            return columns
        denied = rules.table_grant(who, catalog, schema, table).denied_columns
        return [c for c in columns if c.name.lower() not in denied]

    def _all_tables(self, rules: AccessRules, who: Identity, catalogs: list[str]):
        for catalog in catalogs:
            for schema in self.visible_schemas(rules, who, catalog):
                for table in self.visible_tables(rules, who, catalog, schema):
                    yield catalog, schema, table

    def build(self, key: tuple[str, str], rules: AccessRules, who: Identity, catalog: str) -> pa.Table:
        """The rows of metadata table ``key`` (schema, table) of ``catalog`` for ``who``."""
        # information_schema lists its own catalog; system tables list every catalog.
        catalogs = [catalog] if key[0] == INFORMATION_SCHEMA else self.visible_catalogs(rules, who)
        rows: list[tuple] = []
        schema, table = key
        if table == "schemata":
            rows = [(c, s) for c in catalogs for s in self.visible_schemas(rules, who, c)]
        elif (schema, table) == ("jdbc", "schemas"):
            rows = [(s, c) for c in catalogs for s in self.visible_schemas(rules, who, c)]
        elif table == "catalogs":
            rows = [(c,) if schema == "jdbc" else (c, c, "delta_lake" if c == self.lake.name else SYSTEM)
                    for c in catalogs]
        elif table == "tables":
            rows = [(c, s, t, "BASE TABLE", None) if schema == INFORMATION_SCHEMA
                    else (c, s, t, "TABLE", None, None, None, None, None, None)
                    for c, s, t in self._all_tables(rules, who, catalogs)]
        elif table == "table_comments":
            rows = [(c, s, t, None) for c, s, t in self._all_tables(rules, who, catalogs)]
        elif table == "table_types":
            rows = [("TABLE",), ("VIEW",)]
        elif table == "table_privileges":
            rows = [(None, None, who.user, "USER", c, s, t, p, "NO", "YES")
                    for c, s, t in self._all_tables(rules, who, catalogs) if s != INFORMATION_SCHEMA
                    for p in sorted(rules.table_grant(who, c, s, t).privileges)]
        elif table == "columns":
            rows = self._column_rows(rules, who, catalogs, jdbc=schema == "jdbc")
        elif table == "types":
            rows = [_jdbc_type_row(name) for name in _JDBC_TYPE_NAMES]
        return arrow_table(key, rows)

    def _column_rows(self, rules: AccessRules, who: Identity, catalogs: list[str], *, jdbc: bool) -> list[tuple]:
        rows = []
        for c, s, t in self._all_tables(rules, who, catalogs):
            for position, col in enumerate(self.visible_columns(rules, who, c, s, t), 1):
                if jdbc:
                    ty = col.type
                    rows.append((c, s, t, col.name, ty.jdbc_type, ty.name, ty.precision, 0, ty.scale,
                                 10 if ty.raw in ("tinyint", "smallint", "integer", "bigint", "decimal") else None,
                                 1, None, None, None, None, ty.precision if ty.raw == "varchar" else None,
                                 position, "YES", None, None, None, None, "NO", "NO"))
                else:
                    rows.append((c, s, t, col.name, position, None, "YES", col.type.name, None, None))
        return rows


def _arrow_trino_type(arrow: pa.DataType) -> TrinoType:
    if arrow == pa.int64():
        return BIGINT
    if arrow == pa.bool_():
        return BOOLEAN
    if pa.types.is_timestamp(arrow):
        return TrinoType("timestamp(6) with time zone", "timestamp with time zone", ({"kind": "LONG", "value": 6},))
    return VARCHAR


def _jdbc_type_row(name: str) -> tuple:
    numeric = name in ("tinyint", "smallint", "integer", "bigint", "real", "double", "decimal")
    return (name, JDBC_TYPES.get(name, 2000), None, "'" if name in ("varchar", "date", "json", "uuid") else None,
            "'" if name in ("varchar", "date", "json", "uuid") else None, None, 1, name == "varchar", 3,
            not numeric, False, False, None, 0, 38 if name == "decimal" else 0, None, None, 10 if numeric else None)


__all__ = ["INFORMATION_SCHEMA", "LAYOUTS", "SYSTEM", "SYSTEM_SCHEMAS", "Column", "LakeCatalog",
           "MetadataTables", "arrow_table", "describe_with"]
