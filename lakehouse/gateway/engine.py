"""DuckDB over the lake, locked to the lake, streaming results as Trino JSON pages.

One in-memory DuckDB database serves every query, each on its own cursor (a cheap
connection to the same database: a few microseconds). It reads Delta tables through
``delta_scan`` at each query, so it always sees the latest commit and never holds a file a
writer needs. It is locked down once at start:

* ``enable_external_access = false`` with ``allowed_directories = [LAKE_ROOT]`` and
  ``lock_configuration = true``: even a function the planner failed to refuse could not read
  a file outside the lake, and no statement can lift the lock;
* ``TimeZone = 'UTC'``: Delta timestamps are UTC instants, and Trino's Delta connector
  reads them in UTC too (date_trunc, casts and formatting agree with production).

Pages are rendered by DuckDB (``json_array`` over the page's Arrow batch, see ``types``),
bounded by rows and by bytes so a wide table cannot make a page of hundreds of MB.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from lakehouse.gateway.encoding import encode_page
from lakehouse.gateway.errors import from_duckdb
from lakehouse.gateway.translate import Plan
from lakehouse.gateway.types import TrinoType, trino_type
from lakehouse.lake.duck import connect

_SCAN = re.compile(r"(?i)delta_scan\('((?:[^']|'')*)'\)")


@dataclass(frozen=True)
class Page:
    """One page of rows already rendered as the inside of Trino's ``data`` array."""

    data: bytes  # b'[1,"a"],[2,"b"]' (no outer brackets)
    rows: int


class Engine:
    """The shared DuckDB database; :meth:`run` executes one plan on one cursor."""

    def __init__(self, lake_root: Path, *, catalog: str = "lake", memory_limit: str = "4GB",
                 threads: int | None = None):
        self._con = connect()
        self.catalog = catalog
        root = self.root = str(Path(lake_root).resolve()).rstrip("/") + "/"
        settings = [
            "SET GLOBAL TimeZone = 'UTC'",
            f"SET GLOBAL memory_limit = '{memory_limit}'",
            f"SET allowed_directories = ['{root.replace(chr(39), chr(39) * 2)}']",
            "SET enable_external_access = false",
            "SET lock_configuration = true",
        ]
        if threads:
            settings.insert(0, f"SET GLOBAL threads = {int(threads)}")
        for statement in settings:
            self._con.execute(statement)
        self._lock = threading.Lock()

    def _clean(self, message: str) -> str:
        """Error messages name tables as the user wrote them, never the lake's file paths."""
        def name(found: re.Match) -> str:
            tier, _, table = found.group(1).rpartition("/")
            return f"{self.catalog}.{tier.rpartition('/')[2]}.{table}"

        return _SCAN.sub(name, message).replace(self.root, "")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:  # cursor() on a shared connection is not documented thread-safe
            return self._con.cursor()

    def close(self) -> None:
        self._con.close()

    def run(self, plan: Plan, cursor: duckdb.DuckDBPyConnection, *, page_rows: int,
            page_bytes: int) -> tuple[list[str], list[TrinoType], Iterator[Page]]:
        """Execute ``plan``; the column names, their Trino types and a lazy page iterator."""
        try:
            for name, build in plan.virtual.items():
                cursor.register(name, build())
            if plan.explain:
                text = "\n".join(str(row[-1]) for row in cursor.execute(plan.sql).fetchall())
                cursor.execute('SELECT ? AS "Query Plan"', [text])
            else:
                cursor.execute(plan.sql)
            description = cursor.description or []
            names = [d[0] for d in description]
            types = [trino_type(d[1]) for d in description]
            reader = cursor.fetch_record_batch(page_rows)
        except duckdb.Error as exc:
            raise from_duckdb(exc, self._clean) from None
        return names, types, self._pages(reader, types, page_rows, page_bytes)

    def _pages(self, reader: pa.RecordBatchReader, types: list[TrinoType], page_rows: int,
               page_bytes: int) -> Iterator[Page]:
        rows_per_page = page_rows
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except duckdb.Error as exc:
                raise from_duckdb(exc, self._clean) from None
            offset = 0
            while offset < batch.num_rows:
                chunk = batch.slice(offset, rows_per_page)
                offset += chunk.num_rows
                page = Page(encode_page(chunk, types, self.cursor), chunk.num_rows)
                yield page
                # Bound pages by bytes too: size the next one from this one's bytes per row.
                per_row = max(1, len(page.data) // max(1, page.rows))
                rows_per_page = max(1, min(page_rows, page_bytes // per_row))


__all__ = ["Engine", "Page"]
