"""DuckDB over the lake: the embedded SQL engine (``ioc sql``, dbt-duckdb, Superset).

Extensions come from the ``duckdb-ext-*`` wheels so nothing is downloaded at run time. A lake
on S3 is read through ``httpfs`` with a secret derived from ``IOC_STORAGE_OPTIONS``
(:func:`configure_storage`); the SQL is the same ``delta_scan`` either way.
"""

from __future__ import annotations

import duckdb

from lakehouse.lake.extensions import extension_directory
from lakehouse.lake.paths import Tier, list_tables
from lakehouse.lake.storage import duckdb_secret_sql, is_object_store
from lakehouse.settings import Settings, get_settings

EXTENSIONS = ("delta", "spatial")


def load_extensions(con: duckdb.DuckDBPyConnection, extensions: tuple[str, ...] = EXTENSIONS) -> None:
    con.execute(f"SET extension_directory = '{extension_directory()}'")
    con.execute("SET autoinstall_known_extensions = false")
    for name in extensions:
        con.execute(f"LOAD {name}")


def connect(database: str = ":memory:", *, read_only: bool = False,
            settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the offline extensions loaded and the lake's storage
    configured, so ``delta_scan('<any table uri>')`` works wherever the lake is."""
    con = duckdb.connect(database, read_only=read_only)
    load_extensions(con)
    configure_storage(con, settings)
    return con


def configure_storage(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> None:
    """Let ``con`` read (and write) the lake's object store: ``httpfs`` plus a temporary S3
    secret from the lake's storage options. Nothing to do for a lake on a local folder."""
    settings = settings or get_settings()
    if not is_object_store(settings.lake_root):
        return
    con.execute(f"SET extension_directory = '{extension_directory()}'")
    con.execute("LOAD httpfs")
    con.execute(duckdb_secret_sql(settings.storage_options))


def attach_lake(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> list[str]:
    """Expose every Delta table as a view ``<tier>.<name>`` over ``delta_scan``; returns them."""
    settings = settings or get_settings()
    configure_storage(con, settings)
    names = []
    for tier in Tier:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {tier.value}")
    for tier, name, uri in list_tables(settings):
        con.execute(
            f"CREATE OR REPLACE VIEW {tier.value}.{name} AS SELECT * FROM delta_scan('{uri}')"
        )
        names.append(f"{tier.value}.{name}")
    return names


def lake_connection(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    con = connect()
    attach_lake(con, settings)
    return con
