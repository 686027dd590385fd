"""Benchmark the public Open311 API over HTTP against a per-request DuckDB query of gold.

    python benchmarks/publicapi.py [--rows 100000] [--requests 300]

1. Writes ``gold.citizen_requests`` with ``--rows`` synthetic requests (one a minute back from
   now, five service codes, open/closed) as a real Delta table in a temporary lake.
2. Starts the API (``create_app``, uvicorn on loopback, rate limit off) and times the snapshot
   load (DuckDB ``delta_scan`` of the served columns, masking, ISO-8601 times).
3. Times ``--requests`` sequential HTTP calls per endpoint — a page of 100 reports (JSON and
   XML), a filtered page (two codes, one status, page 5), one report by id — each including
   the Delta version check every request makes.
4. Reference, in the same run: the same filtered page answered the obvious way, one DuckDB
   ``delta_scan`` query of gold per request (connection kept, no HTTP), which is what the API
   would cost without its snapshot.

Prints p50/p95 per endpoint and the ratio reference p50 / API p50 (HTTP included on the API's
side only).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

CODES = ("pothole", "streetlight", "flooding", "garbage", "noise")


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def _gold(rows: int):
    import pyarrow as pa

    rnd, now = random.Random(311), datetime.now(UTC)
    times = [now - timedelta(minutes=i) for i in range(rows)]
    return pa.table({
        "service_request_id": [f"QN-{i:07d}" for i in range(rows)],
        "service_code": [rnd.choice(CODES) for _ in range(rows)],
        "service_name": ["Ổ gà, hư hỏng mặt đường"] * rows,
        "status": [rnd.choice(("open", "closed")) for _ in range(rows)],
        "status_notes": ["Đã chuyển Sở Giao thông Vận tải xử lý."] * rows,
        "agency_responsible": ["Sở Giao thông Vận tải"] * rows,
        "requested_datetime": times, "updated_datetime": times, "expected_datetime": times,
        "lon": [107.0] * rows, "lat": [21.0] * rows, "address": ["S***"] * rows, "description": ["***"] * rows,
        "media_url": pa.array([None] * rows, pa.string()),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ioc-publicapi-bench-"))
    os.environ.update({"IOC_LAKE_ROOT": str(root / "lake"), "IOC_OPENDATA_DIR": str(root / "opendata"),
                       "IOC_PUBLIC_API_RATE_PER_MINUTE": "1e12", "IOC_PUBLIC_API_BURST": "1000000000"})

    import httpx
    import uvicorn

    from lakehouse.lake import delta
    from lakehouse.lake.duck import connect
    from lakehouse.lake.paths import table_uri
    from lakehouse.publicapi import create_app
    from lakehouse.settings import get_settings

    uri = table_uri("gold", "citizen_requests")
    delta.replace(uri, _gold(args.rows), batch_id="bench")
    app = create_app(get_settings())
    started = time.perf_counter()
    app.state.store.current()
    print(f"gold.citizen_requests: {args.rows:,} rows; snapshot load {time.perf_counter() - started:.2f} s")

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    filtered = {"service_code": "pothole,garbage", "status": "open", "page": 5, "page_size": 100}
    cases = [("/requests.json", {"page_size": 100}), ("/requests.xml", {"page_size": 100}),
             ("/requests.json", filtered), (f"/requests/QN-{args.rows // 2:07d}.json", {})]
    results = {}
    with httpx.Client(base_url=base) as client:
        for path, params in cases:
            client.get(path, params=params).raise_for_status()
            samples = []
            for _ in range(args.requests):
                begin = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                samples.append(time.perf_counter() - begin)
            results[(path, tuple(params))] = _percentiles(samples)
            print(f"  API  {path:<28} {','.join(params) or '-':<42} p50 {results[(path, tuple(params))][0]:6.1f} ms"
                  f"  p95 {results[(path, tuple(params))][1]:6.1f} ms")
    server.should_exit = True

    con = connect()
    sql = (f"select * from delta_scan('{uri}') where service_code in ('pothole', 'garbage') and status = 'open' "
           "order by requested_datetime desc, service_request_id limit 100 offset 400")
    con.execute(sql).fetchall()
    samples = []
    for _ in range(args.requests):
        begin = time.perf_counter()
        con.execute(sql).fetchall()
        samples.append(time.perf_counter() - begin)
    reference = _percentiles(samples)
    api = results[("/requests.json", tuple(filtered))]
    print(f"  ref  delta_scan per request (no HTTP)     filtered page                    p50 {reference[0]:6.1f} ms"
          f"  p95 {reference[1]:6.1f} ms")
    print(f"filtered page: reference p50 / API p50 = {reference[0] / api[0]:.1f}x")
    con.close()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
