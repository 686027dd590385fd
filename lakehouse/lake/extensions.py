"""Where DuckDB's extensions live: shipped in wheels, never downloaded at run time.

Kept apart from ``duck`` so callers that only need the path (the dbt environment, read at
DAG parse time) do not import DuckDB itself."""

from __future__ import annotations

from pathlib import Path


def extension_directory() -> str:
    """The folder the ``duckdb-ext-delta`` / ``duckdb-ext-spatial`` wheels install into."""
    import duckdb_ext  # namespace package shipped by the duckdb-ext-* wheels

    return str(Path(next(iter(duckdb_ext.__path__))) / "extensions")
