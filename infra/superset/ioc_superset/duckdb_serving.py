"""Share one read-only DuckDB instance per serving file across a worker's queries.

Superset builds a new SQLAlchemy engine with ``NullPool`` for every query, so duckdb-engine
would open the serving file and ``LOAD`` the extensions the database's connect args name
(delta, spatial) each time: 150–350 ms on this machine, for queries that take 2–20 ms.
This mutator hands SQLAlchemy a ``creator`` that returns a cursor of one shared instance
instead: a DuckDB cursor is a connection of its own to the same database instance, so the
extensions are loaded once and concurrent queries do not share a connection.

Only read-only DuckDB files are shared (the serving file holds views over ``delta_scan``;
each query re-reads the Delta log, so new data shows without a restart). The serving path is
a symlink to the current version (``lakehouse.superset.serving``); it is resolved on every
connection, so a rebuilt file is opened by the next query. Every other database passes
through unchanged.

It also makes duckdb-engine's dialect cheap to build (:func:`reserved_words_once`): Superset
builds one per query, and duckdb-engine 0.17 asks DuckDB for its reserved keywords in every
dialect's identifier preparer (Mause/duckdb_engine#1190's fix), which py-spy showed as ~16%
of a chart-data request here.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import duckdb
from sqlalchemy.engine.url import URL

_lock = threading.Lock()
_instances: dict[str, tuple[str, duckdb.DuckDBPyConnection]] = {}  # link -> (file it named, instance)


def _open(path: str, connect_args: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    config = {k: v for k, v in (connect_args.get("config") or {}).items()}
    con = duckdb.connect(path, read_only=True, config=config)
    for extension in connect_args.get("preload_extensions") or ():
        con.execute(f"LOAD {extension}")
    return con


def shared_cursor(path: str, connect_args: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """A new connection (cursor) to the worker's shared instance of the file ``path`` names."""
    target = os.path.realpath(path)
    with _lock:
        current = _instances.get(path)
        if current is None or current[0] != target:
            current = (target, _open(target, connect_args))
            _instances[path] = current  # the old instance lives on while its cursors do
        return current[1].cursor()


def reserved_words_once() -> None:
    """Ask DuckDB for its reserved keywords once per process, not once per dialect."""
    from duckdb_engine import DuckDBIdentifierPreparer
    from sqlalchemy.dialects.postgresql.base import PGIdentifierPreparer

    if getattr(DuckDBIdentifierPreparer, "_ioc_reserved", None) is not None:
        return
    with duckdb.connect() as con:
        reserved = frozenset(name for (name,) in con.execute(
            "select keyword_name from duckdb_keywords() where keyword_category = 'reserved'").fetchall())

    def __init__(self, dialect: Any, **kwargs: Any) -> None:  # duckdb-engine's, minus the query
        PGIdentifierPreparer.__init__(self, dialect, **kwargs)
        self.reserved_words = self.reserved_words | reserved

    DuckDBIdentifierPreparer._ioc_reserved = reserved
    DuckDBIdentifierPreparer.__init__ = __init__


def share_duckdb_instances(url: URL, params: dict[str, Any], username: str | None,
                           security_manager: Any, source: Any) -> tuple[URL, dict[str, Any]]:
    """``DB_CONNECTION_MUTATOR``: pool read-only DuckDB files; leave everything else alone."""
    connect_args = params.get("connect_args") or {}
    if url.get_backend_name() != "duckdb" or not url.database or url.database == ":memory:" \
            or not connect_args.get("read_only"):
        return url, params
    from duckdb_engine import ConnectionWrapper

    path = url.database
    return url, {**params, "creator": lambda: ConnectionWrapper(shared_cursor(path, connect_args))}


__all__ = ["reserved_words_once", "share_duckdb_instances", "shared_cursor"]
