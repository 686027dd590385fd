"""Make every Delta table of the lake queryable in Trino: schemas ``lake.<tier>`` and
``system.register_table`` for each table the metastore does not know yet.

The platform writes its tables with delta-rs and Spark straight to the object store; Trino's
delta_lake catalog sees a table once the Hive Metastore has it (infra/trino/etc/catalog/
lake.properties enables ``delta.register-table-procedure.enabled``). Registering is
idempotent: run it after the first pipeline run and whenever a contract adds a dataset.

    docker compose run --rm airflow-init python /opt/ioc/infra/compose/register_trino_tables.py

Reads the lake from the platform settings (``IOC_LAKE_ROOT``, ``IOC_STORAGE_OPTIONS``) and
connects as the dbt user (``IOC_TRINO_HOST`` / ``PORT`` / ``USER`` / ``PASSWORD``,
``IOC_TRINO_CATALOG``), over HTTPS when ``IOC_TRINO_HTTP_SCHEME=https``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def statements(catalog: str, lake_root: str, tables: Iterable[tuple[str, str, str]],
               registered: set[tuple[str, str]]) -> list[str]:
    """SQL that registers ``tables`` ((tier, name, uri)) not in ``registered`` ((schema, table))."""
    tables = list(tables)
    sql = [f"CREATE SCHEMA IF NOT EXISTS {quote(catalog)}.{quote(tier)} "
           f"WITH (location = {literal(lake_root.rstrip('/') + '/' + tier)})"
           for tier in sorted({tier for tier, _, _ in tables})]
    for tier, name, uri in tables:
        if (tier, name) not in registered:
            sql.append(f"CALL {quote(catalog)}.system.register_table(schema_name => {literal(tier)}, "
                       f"table_name => {literal(name)}, table_location => {literal(uri)})")
    return sql


def main() -> int:
    import trino

    from lakehouse.lake.paths import list_tables
    from lakehouse.settings import get_settings

    settings = get_settings()
    catalog = os.environ.get("IOC_TRINO_CATALOG", "lake")
    scheme = os.environ.get("IOC_TRINO_HTTP_SCHEME", "https")
    password = os.environ.get("IOC_TRINO_PASSWORD", "")
    con = trino.dbapi.connect(
        host=os.environ.get("IOC_TRINO_HOST", "trino-coordinator"), port=int(os.environ.get("IOC_TRINO_PORT", "8443")),
        user=os.environ.get("IOC_TRINO_USER", "dbt"), http_scheme=scheme, catalog=catalog,
        auth=trino.auth.BasicAuthentication(os.environ.get("IOC_TRINO_USER", "dbt"), password) if password else None)
    cursor = con.cursor()
    cursor.execute(f"SELECT table_schema, table_name FROM {quote(catalog)}.information_schema.tables")
    registered = {(schema, table) for schema, table in cursor.fetchall()}
    tables = [(tier.value, name, uri) for tier, name, uri in list_tables(settings)]
    todo = statements(catalog, settings.lake_root, tables, registered)
    for sql in todo:
        cursor.execute(sql)
        cursor.fetchall()
        print(sql)
    print(f"{len(tables)} tables in the lake, {len(todo)} statements run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
