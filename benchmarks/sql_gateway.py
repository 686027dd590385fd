"""Benchmark the SQL gateway (``ioc serve-sql``) against DuckDB queried directly.

    python benchmarks/sql_gateway.py [--rows 1000000] [--small-rows 20000] [--repeat 300]
                                     [--throughput-repeat 3] [--in-process]

1. Writes a temporary lake: ``gold.readings`` (``--rows`` rows: bigint, varchar x2,
   timestamp with time zone, double, decimal) and ``gold.readings_small`` (``--small-rows``).
2. Starts the gateway as ``ioc serve-sql`` in its own process (``--in-process``: a thread
   here), with Trino rules that give ``bench`` every table and ``district`` the same tables
   behind a row filter and a column mask.
3. **Latency**: a small aggregate query (one page, 3 rows) ``--repeat`` times, alternating
   (a) a direct DuckDB connection over the same Delta tables (``lakehouse.lake.duck``: views
   over ``delta_scan``, ``fetchall``) and (b) the real ``trino`` client (DB-API) through the
   gateway, as ``bench`` and as ``district``. Prints p50/p95 ms and the p50 overhead (b)-(a)
   against the target (< 20 ms).
4. **Throughput**: a ``--rows`` result (every row, 6 columns) through nextUri paging, with
   the client building Python rows, vs DuckDB's own ``fetchall`` (Python rows) and
   ``fetch_arrow_table`` in this process; plus the raw protocol (pages fetched, not decoded)
   to show the server's own rate. Prints rows/s, MB/s (JSON on the wire) and ratios.

The dev box has 2 cores shared with other work: compare ratios from one run, not seconds
across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import requests
import trino
from deltalake import write_deltalake
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lakehouse.lake.duck import lake_connection
from lakehouse.settings import REPO_ROOT, Settings

console = Console()
SMALL_QUERY = ("SELECT unit_code, count(*) AS n, avg(pm25) AS pm25 FROM gold.readings_small "
               "WHERE observed_at >= TIMESTAMP '2025-06-02 00:00:00 UTC' GROUP BY unit_code ORDER BY unit_code")
BIG_QUERY = "SELECT id, station, unit_code, observed_at, pm25, price FROM gold.readings"
NEXT_URI = re.compile(rb'"nextUri":"([^"]+)"')
RULES = {
    "catalogs": [{"allow": "all"}],
    "tables": [
        {"user": "bench", "privileges": ["SELECT"]},
        {"user": "district", "schema": "gold", "privileges": ["SELECT"], "filter": "unit_code IN ('193', '194')",
         "columns": [{"name": "station", "mask": "'***'"}]},
    ],
}


def readings(rows: int) -> pa.Table:
    start = datetime(2025, 6, 1, tzinfo=UTC)
    units = ["193", "194", "195", "196"]
    return pa.table({
        "id": pa.array(range(rows), pa.int64()),
        "station": [f"ST-{i % 200:03d}" for i in range(rows)],
        "unit_code": [units[i % 4] for i in range(rows)],
        "observed_at": pa.array([start + timedelta(seconds=30 * i) for i in range(rows)],
                                pa.timestamp("us", tz="UTC")),
        "pm25": [5 + (i % 500) / 10 for i in range(rows)],
        "price": pa.array([Decimal(i % 10_000) / 100 for i in range(rows)], pa.decimal128(12, 2)),
    })


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Server:
    """The gateway in its own process (``ioc serve-sql``) or in a thread here."""

    def __init__(self, lake: Path, etc: Path, spool: Path, in_process: bool):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {"IOC_LAKE_ROOT": str(lake), "IOC_SQL_GATEWAY_TRINO_ETC": str(etc),
               "IOC_SQL_GATEWAY_SPOOL_DIR": str(spool), "IOC_SQL_GATEWAY_PASSWORD_FILE": ""}
        self.process = self.gateway = None
        if in_process:
            from lakehouse.gateway import SqlGateway

            settings = Settings(lake_root=str(lake), sql_gateway_trino_etc=etc, sql_gateway_spool_dir=spool)
            self.gateway = SqlGateway(settings, port=self.port).start()
        else:
            ioc = str(Path(sys.executable).with_name("ioc"))
            self.process = subprocess.Popen([ioc, "serve-sql", "--port", str(self.port)], env={**os.environ, **env},
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.url}/v1/info", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"ioc serve-sql exited: {self.process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start in 60 s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)


def latency(server: Server, settings: Settings, repeat: int) -> dict[str, list[float]]:
    direct = lake_connection(settings)
    clients = {user: trino.dbapi.connect(host="127.0.0.1", port=server.port, user=user, catalog="lake",
                                         schema="gold").cursor() for user in ("bench", "district")}
    reference = direct.execute(SMALL_QUERY).fetchall()
    clients["bench"].execute(SMALL_QUERY)
    through = clients["bench"].fetchall()
    assert [list(r)[:2] for r in reference] == [r[:2] for r in through], "gateway and DuckDB disagree"
    times: dict[str, list[float]] = {"(a) DuckDB direct": [], "(b) gateway, bench": [], "(b') gateway, district": []}
    for _ in range(repeat):
        started = time.perf_counter()
        direct.execute(SMALL_QUERY).fetchall()
        times["(a) DuckDB direct"].append(time.perf_counter() - started)
        for label, user in (("(b) gateway, bench", "bench"), ("(b') gateway, district", "district")):
            started = time.perf_counter()
            clients[user].execute(SMALL_QUERY)
            clients[user].fetchall()
            times[label].append(time.perf_counter() - started)
    direct.close()
    return times


def throughput(server: Server, settings: Settings, repeat: int, rows: int) -> list[tuple[str, float, int, int]]:
    """(label, best seconds, rows, bytes)."""
    direct = lake_connection(settings)
    results = []
    best = min(_timed(lambda: direct.execute(BIG_QUERY).fetch_arrow_table()) for _ in range(repeat))
    arrow_bytes = direct.execute(BIG_QUERY).fetch_arrow_table().nbytes
    results.append(("DuckDB fetch_arrow_table (Arrow, no Python rows)", best, rows, arrow_bytes))
    best = min(_timed(lambda: direct.execute(BIG_QUERY).fetchall()) for _ in range(repeat))
    results.append(("(a) DuckDB fetchall (Python rows)", best, rows, arrow_bytes))
    cursor = trino.dbapi.connect(host="127.0.0.1", port=server.port, user="bench", catalog="lake",
                                 schema="gold").cursor()
    counted: list[int] = []

    def client() -> None:
        cursor.execute(BIG_QUERY)
        counted.append(len(cursor.fetchall()))

    best = min(_timed(client) for _ in range(repeat))
    assert counted[-1] == rows, f"the client got {counted[-1]} rows, expected {rows}"
    wire: list[int] = []

    def raw() -> None:
        session = requests.Session()
        headers = {"X-Trino-User": "bench", "X-Trino-Catalog": "lake", "X-Trino-Schema": "gold"}
        response = session.post(f"{server.url}/v1/statement", data=BIG_QUERY, headers=headers)
        total, pages = len(response.content), 1
        next_uri = response.json().get("nextUri")
        while next_uri:
            response = session.get(next_uri, headers=headers)
            total += len(response.content)
            pages += 1
            found = NEXT_URI.search(response.content, 0, 2000)  # the envelope comes before the data
            next_uri = found.group(1).decode() if found else None
        wire[:] = [total, pages]

    raw_best = min(_timed(raw) for _ in range(repeat))
    results.append(("(b) gateway + trino client (Python rows)", best, rows, wire[0] if wire else 0))
    results.append((f"gateway raw protocol ({wire[1]} pages, not decoded)", raw_best, rows, wire[0]))
    direct.close()
    return results


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--throughput-repeat", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help="run the gateway in a thread of this process")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="ioc-gateway-bench-"))
    try:
        lake, etc = work / "lake", work / "etc"
        console.print(f"writing {args.rows:,} + {args.small_rows:,} rows to {lake} …")
        write_deltalake(str(lake / "gold" / "readings"), readings(args.rows))
        write_deltalake(str(lake / "gold" / "readings_small"), readings(args.small_rows))
        (etc / "catalog").mkdir(parents=True)
        (etc / "rules.json").write_text(json.dumps(RULES))
        (etc / "group.txt").write_text("")
        shutil.copy(REPO_ROOT / "infra" / "trino" / "etc" / "catalog" / "lake.properties", etc / "catalog")
        settings = Settings(lake_root=str(lake))
        server = Server(lake, etc, work / "spool", args.in_process)
        try:
            times = latency(server, settings, args.repeat)
            flows = throughput(server, settings, args.throughput_repeat, args.rows)
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    where = "a thread of this process" if args.in_process else "its own process (ioc serve-sql)"
    table = Table("small query", "p50 ms", "p95 ms", "p50 overhead ms", "p50 ratio",
                  title=f"Latency: {args.repeat} runs, gateway in {where}")
    base = statistics.median(times["(a) DuckDB direct"])
    for label, values in times.items():
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        table.add_row(label, f"{p50 * 1000:.2f}", f"{p95 * 1000:.2f}",
                      "" if label.startswith("(a)") else f"{(p50 - base) * 1000:+.2f}", f"{p50 / base:.2f}x")
    console.print(table)
    overhead = (statistics.median(times["(b) gateway, bench"]) - base) * 1000
    verdict = "[green]met[/]" if overhead < 20 else "[red]missed[/]"
    console.print(f"target p50 overhead < 20 ms: {verdict} ({overhead:.2f} ms)")

    table = Table("path", "best s", "rows/s", "MB/s", "vs (a)", title=f"Throughput: {args.rows:,} rows, 6 columns")
    reference = next(seconds for label, seconds, *_ in flows if label.startswith("(a)"))
    for label, seconds, rows, size in flows:
        table.add_row(label, f"{seconds:.2f}", f"{rows / seconds:,.0f}", f"{size / seconds / 1e6:,.1f}",
                      f"{seconds / reference:.2f}x time")
    console.print(table)
    console.print("MB/s: Arrow bytes for DuckDB, JSON bytes on the wire for the gateway.")


if __name__ == "__main__":
    main()
