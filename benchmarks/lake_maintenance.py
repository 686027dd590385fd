"""What lake maintenance buys readers: dashboard-style queries on a table of many small batches,
before and after ``maintain_table``, next to the same rows written as one batch.

    python benchmarks/lake_maintenance.py [--batches 960] [--rows 200] [--repeat 20]

Writes ``--batches`` appends of ``--rows`` sensor readings each (960 = ten days of 15-minute
batches) into a temporary Delta table, the reference table (the same rows in one write), and
times on DuckDB's ``delta_scan`` (as Superset and the SQL gateway read the lake): a count, an
hourly aggregate of the last day, and a full-table aggregate. Then compacts the table with
``lakehouse.lake.maintenance.maintain_table`` (timed) and times the queries again. Prints each
query's p50 per state and the ratio to the reference.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb
import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import track
from rich.table import Table

from lakehouse.lake import delta
from lakehouse.lake.extensions import extension_directory
from lakehouse.lake.maintenance import MaintenancePolicy, maintain_table

console = Console()
START = datetime(2026, 1, 1, tzinfo=UTC)
QUERIES = {
    "count": "select count(*) from delta_scan('{uri}')",
    "hourly, last day": "select date_trunc('hour', observed_at) h, sensor_id, avg(value) from delta_scan('{uri}') "
                        "where observed_at >= TIMESTAMPTZ '{last_day}' group by all",
    "per sensor, all": "select sensor_id, avg(value), max(observed_at) from delta_scan('{uri}') group by all",
}


def batch(i: int, rows: int) -> pa.Table:
    rng = np.random.default_rng(i)
    at = START + timedelta(minutes=15 * i)
    return pa.table({"sensor_id": [f"S{j % 50:03d}" for j in range(rows)],
                     "observed_at": pa.array([at] * rows, pa.timestamp("us", tz="UTC")),
                     "value": rng.normal(50, 10, rows)})


def timed(con: duckdb.DuckDBPyConnection, sql: str, repeat: int) -> float:
    con.execute(sql).fetchall()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        con.execute(sql).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=960)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-maintenance-"))
    try:
        small, reference = str(work / "batched"), str(work / "reference")
        for i in track(range(args.batches), description=f"{args.batches} appends"):
            delta.append(small, batch(i, args.rows), batch_id=f"b{i}")
        delta.append(reference, pa.concat_tables(batch(i, args.rows) for i in range(args.batches)), batch_id="all")
        last_day = (START + timedelta(minutes=15 * (args.batches - 96))).isoformat()
        con = duckdb.connect(config={"extension_directory": extension_directory()})
        con.execute("LOAD delta")
        figures: dict[str, dict[str, float]] = {}
        for name, sql in QUERIES.items():
            figures[name] = {"reference": timed(con, sql.format(uri=reference, last_day=last_day), args.repeat),
                             "before": timed(con, sql.format(uri=small, last_day=last_day), args.repeat)}
        result = maintain_table(small, MaintenancePolicy())
        for name, sql in QUERIES.items():
            figures[name]["after"] = timed(con, sql.format(uri=small, last_day=last_day), args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    console.print(f"{args.batches} batches × {args.rows} rows = {args.batches * args.rows:,} rows; maintain_table: "
                  f"{result.files_before} → {result.files_after} files in {result.seconds:.2f} s")
    table = Table("query", "one write (reference)", "batched", "ratio", "after maintenance", "ratio",
                  title=f"DuckDB delta_scan, p50 of {args.repeat} (ms)")
    for name, f in figures.items():
        table.add_row(name, f"{f['reference']:.1f}", f"{f['before']:.1f}", f"{f['before'] / f['reference']:.1f}x",
                      f"{f['after']:.1f}", f"{f['after'] / f['reference']:.1f}x")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
