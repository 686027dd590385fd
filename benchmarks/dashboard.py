"""What one dashboard query costs per core, for sizing the SQL engine (infra/SIZING.md).

    python benchmarks/dashboard.py [--sensors 5000] [--days 30] [--repeat 5]

Writes a Delta table shaped like the busiest gold mart the dashboards read (one row per
sensor per 15 minutes, as ``gold.traffic_flow_15min``: sensor id, administrative unit,
bucket start, vehicles, occupancy, speed, congestion index; partitioned by day) with delta-rs,
then times, on DuckDB limited to **one thread** (``delta_scan``, the embedded engine), the
three query shapes the IOC dashboards run (infra/superset assets):

* ``kpi``: a 24-hour headline figure per unit (the overview's big numbers);
* ``series``: hourly series per unit over the last 7 days (line charts);
* ``rollup``: daily totals per unit over the whole window (bar charts, scorecards).

Prints rows and bytes per row of the table, rows each query reads (after day-partition pruning) and the best
and median seconds, and rows read per second per core. Trino is not installable here: the
sizing scales these single-core figures and says so.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUERIES = {
    "kpi": (("select unit_code, sum(vehicles), avg(congestion_index) from t "
            "where bucket_date >= DATE '{last}' group by all"), 1),
    "series": (("select unit_code, date_trunc('hour', bucket_start) as h, sum(vehicles), avg(avg_speed) from t "
               "where bucket_date >= DATE '{week}' group by all"), 7),
    "rollup": (("select unit_code, bucket_date, sum(vehicles), avg(occupancy), max(congestion_index) from t "
               "group by all"), None),
}


def build(path: Path, sensors: int, days: int) -> int:
    import numpy as np
    import pyarrow as pa
    from deltalake import write_deltalake

    rng = np.random.default_rng(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    units = np.array([f"{u:05d}" for u in range(171)])  # the province's communes and wards
    sensor_unit = units[rng.integers(0, len(units), sensors)]
    ids = np.array([f"urn:ngsi-ld:TrafficFlowObserved:QN-{i:05d}" for i in range(sensors)])
    rows = 0
    for day in range(days):
        buckets = np.array([(start + timedelta(days=day, minutes=15 * q)).replace(tzinfo=None) for q in range(96)],
                           dtype="datetime64[us]")
        n = sensors * 96
        vehicles = rng.poisson(40, n).astype("int32")
        speed = rng.normal(38, 9, n).clip(3, 90)
        table = pa.table({
            "sensor_id": np.repeat(ids, 96), "unit_code": np.repeat(sensor_unit, 96),
            "bucket_start": pa.array(np.tile(buckets, sensors), pa.timestamp("us", "UTC")),
            "bucket_date": pa.array([(start + timedelta(days=day)).date()] * n, pa.date32()),
            "vehicles": vehicles, "occupancy": rng.uniform(0, 0.6, n), "avg_speed": speed,
            "congestion_index": (1 - speed / 60).clip(0, 1),
        })
        write_deltalake(str(path), table, mode="append", partition_by=["bucket_date"])
        rows += n
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=5000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from lakehouse.lake.duck import connect

    work = Path(tempfile.mkdtemp(prefix="ioc-dashboard-"))
    table = work / "traffic_flow_15min"
    started = time.perf_counter()
    rows = build(table, args.sensors, args.days)
    from deltalake import DeltaTable

    size = sum(DeltaTable(str(table)).get_add_actions(flatten=True).column("size_bytes").to_pylist())
    print(f"{rows:,} rows ({args.sensors} sensors x {args.days} days x 96) written in "
          f"{time.perf_counter() - started:.0f} s: {size:,} bytes, {size / rows:.1f} B/row")
    con = connect()
    con.execute("SET threads = 1")
    con.execute(f"CREATE VIEW t AS SELECT * FROM delta_scan('{table}')")
    last_day = datetime(2026, 1, 1) + timedelta(days=args.days - 1)
    dates = {"last": last_day.date().isoformat(), "week": (last_day - timedelta(days=6)).date().isoformat()}
    print(f"{'query':8} {'rows read':>12} {'best s':>8} {'median s':>9} {'rows/s/core':>13}")
    for name, (sql, window) in QUERIES.items():
        query = sql.format(**dates)
        read = rows if window is None else args.sensors * 96 * window
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            con.execute(query).fetchall()
            times.append(time.perf_counter() - t0)
        best, median = min(times), statistics.median(times)
        print(f"{name:8} {read:>12,} {best:8.3f} {median:9.3f} {read / median:13,.0f}")
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
