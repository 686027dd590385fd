"""Latency of every dashboard's chart queries through Superset, next to the same SQL in DuckDB.

    python benchmarks/superset_charts.py [--lake var/lake] [--scale 1] [--repeat 10] [--keep]

1. Takes the lake at ``--lake`` (default: the configured one, ``make demo``'s ``var/lake``).
   With ``--scale K`` > 1 it first writes a benchmark copy of the tables the dashboards read
   (gold and ops) under a temporary folder: K copies of every fact table, copy *i* shifted
   back in time by *i* times the table's span, so histories get K times longer; dimensions
   (``dim_*``: units, cameras, sensors) are copied once, as a province does not grow its
   registry with its history.
2. Starts a private Superset on it exactly as ``make demo`` does (``start_superset``: serving
   views, metadata DB, the asset bundle, roles; gunicorn), on a free port.
3. Opens every dashboard in headless chromium and records the chart-data requests the page
   sends (``/api/v1/chart/data`` and, for deck.gl maps, ``/superset/explore_json/``).
4. Replays each request ``--repeat`` times with the cache bypassed (``force``), and asks
   Superset for its SQL (``result_type: query`` / ``query=true``); runs that SQL as many
   times on a warm read-only DuckDB connection to the same serving views, fetching every row.
   A multi-layer map's request runs its layers' queries on the server: its SQL is theirs.
5. Then, per dashboard, loads it as a browser does: all its requests at once (6 connections,
   a browser's limit per host), against the same statements on 6 cursors of the warm DuckDB
   connection; wall time of the whole dashboard.
6. Prints the data size (rows of every table read), the per-query table (charts, requests,
   Superset p50/p95, DuckDB p50/p95, what Superset adds, ratios, PASS/FAIL against the
   targets: Superset ≤ 1.5× DuckDB at p50, Superset p95 < 500 ms), Superset's fixed cost per
   request with the query time the ratio target would need, and the whole-dashboard table.

Superset's time is the HTTP round trip a dashboard pays: authentication, permission and RLS
checks, query building, the query itself, post-processing and JSON. Exit status 1 on FAIL.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb
import httpx
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from lakehouse.settings import Settings, get_settings

RATIO_TARGET = 1.5
P95_TARGET_MS = 500.0
BROWSER_CONNECTIONS = 6  # what a browser opens per host: a dashboard's charts load 6 at a time
console = Console(width=None if sys.stdout.isatty() else 160)


@dataclass
class Replay:
    """One chart-data request of a dashboard, replayable."""

    dashboard: str
    chart: str
    method: str
    url: str
    body: str | None
    headers: dict[str, str]
    sql: list[str] = field(default_factory=list)
    superset_ms: list[float] = field(default_factory=list)
    duckdb_ms: list[float] = field(default_factory=list)

    @property
    def added_ms(self) -> list[float]:
        """What Superset adds to each run's query: its time minus the paired DuckDB run's."""
        return [s - d for s, d in zip(self.superset_ms, self.duckdb_ms, strict=True)]

    @property
    def legacy(self) -> bool:
        return "/superset/explore_json/" in self.url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scale_lake(source: Path, target: Path, k: int) -> None:
    """K time-shifted copies of every gold/ops table of ``source`` under ``target``."""
    from deltalake import write_deltalake

    from lakehouse.lake import delta

    for tier in ("gold", "ops"):
        for table_dir in sorted((source / tier).iterdir()):
            if not (table_dir / "_delta_log").is_dir():
                continue
            table = delta.read(str(table_dir))
            temporal = [f.name for f in table.schema if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)]
            span = timedelta(days=1)
            for name in temporal:
                column = table[name].drop_null()
                if len(column):
                    low, high = pa.compute.min(column).as_py(), pa.compute.max(column).as_py()
                    span = max(span, timedelta(days=(high - low).days + 1))
            copies = []
            for i in range(1 if table_dir.name.startswith("dim_") else k):
                shifted = table
                for name in temporal:
                    index = shifted.schema.get_field_index(name)
                    field_type = shifted.schema.field(name).type
                    offset = pa.scalar(span * i, pa.duration("us"))
                    if pa.types.is_date(field_type):
                        values = pa.compute.cast(pa.compute.subtract(pa.compute.cast(shifted[name], pa.timestamp("us")),
                                                                     offset), field_type)
                    else:
                        values = pa.compute.subtract(shifted[name], offset)
                    shifted = shifted.set_column(index, name, values)
                copies.append(shifted)
            write_deltalake(str(target / tier / table_dir.name), pa.concat_tables(copies), mode="overwrite")
    if (source / "objects").is_dir():  # thumbnails, for the traffic dashboard
        (target / "objects").symlink_to((source / "objects").resolve())


def capture(url: str, password: str, slugs: list[str]) -> tuple[list[Replay], dict[str, str]]:
    """Open every dashboard; the chart-data requests each sent, and the session's cookies."""
    from lakehouse.superset.browser import VIEWPORT, block_tiles, browser, login, open_dashboard

    replays: list[Replay] = []
    with browser() as instance:
        context = instance.new_context(viewport=VIEWPORT)
        block_tiles(context, url)
        page = login(context, url, "admin", password)
        for slug in slugs:
            check = open_dashboard(page, url, slug)
            failures = [f"{c.name}: {c.state}" for c in check.failures]
            if failures:
                raise RuntimeError(f"{slug}: charts failed: {failures}")
            for request in check.requests:
                replays.append(Replay(slug, _chart_id(request), request.method, request.url, request.body,
                                      request.headers))
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        context.close()
    return replays, cookies


def _chart_id(request) -> str:
    """The chart a request is for (its slice id), from the URL or the body."""
    query = parse_qs(urlparse(request.url).query)
    form_data = json.loads(query.get("form_data", ["{}"])[0])
    if form_data.get("slice_id"):
        return str(form_data["slice_id"])
    if request.body and request.body.startswith("{"):
        body = json.loads(request.body)
        return str((body.get("form_data") or {}).get("slice_id") or body.get("datasource", {}).get("id"))
    if request.body:  # legacy POST: form-encoded form_data
        posted = parse_qs(request.body)
        return str(json.loads(posted.get("form_data", ["{}"])[0]).get("slice_id", "?"))
    return "?"


def _send(client: httpx.Client, replay: Replay, *, force: bool, sql: bool = False) -> httpx.Response:
    if replay.legacy:
        parsed = urlparse(replay.url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        if force:
            query["force"] = "true"
        if sql:
            query["query"] = "true"
        return client.request(replay.method, f"{parsed.path}?{urlencode(query)}", content=replay.body,
                              headers=replay.headers)
    body = json.loads(replay.body)
    body["force"] = force
    if sql:
        body["result_type"] = "query"
    return client.post("/api/v1/chart/data", json=body, headers=replay.headers)


def sql_of(client: httpx.Client, replay: Replay, layers: dict[int, list[int]]) -> list[str]:
    """The SQL Superset runs for a request (a multi-layer map: its layers' SQL)."""
    if replay.legacy:
        query = json.loads(parse_qs(urlparse(replay.url).query).get("form_data", ["{}"])[0])
        slice_id = query.get("slice_id")
        if slice_id in layers:
            statements = []
            for layer in layers[slice_id]:
                response = client.get("/superset/explore_json/", params={
                    "form_data": json.dumps({"slice_id": layer}), "query": "true"})
                response.raise_for_status()
                statements.append(response.json()["query"])
            return statements
        response = _send(client, replay, force=True, sql=True)
        response.raise_for_status()
        return [response.json()["query"]]
    response = _send(client, replay, force=True, sql=True)
    response.raise_for_status()
    return [result["query"] for result in response.json()["result"]]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lake", type=Path, default=None, help="lake root (default: the configured one)")
    parser.add_argument("--scale", type=int, default=1, help="time-shifted copies of every gold/ops table")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark folder")
    args = parser.parse_args()

    from lakehouse.superset import start_superset, stop_superset
    from lakehouse.superset.browser import dashboard_slugs
    from lakehouse.superset.bundle import bundle_files
    from lakehouse.superset.env import superset_env

    lake = (args.lake or Path(get_settings().lake_root)).resolve()
    if not (lake / "gold").is_dir():
        console.print(f"[red]no gold tables under {lake}[/]: run `make demo` first (or pass --lake)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-superset-"))
    if args.scale > 1:
        started = time.perf_counter()
        scale_lake(lake, work / "lake", args.scale)
        console.print(f"scaled {lake} ×{args.scale} into {work / 'lake'} in {time.perf_counter() - started:.1f} s")
        lake = work / "lake"
    settings = Settings(lake_root=str(lake), superset_home=work / "superset", superset_port=free_port(),
                        superset_database="duckdb", superset_metadata_uri="", redis_url="", superset_base_maps=[])
    import os

    os.environ.setdefault("SUPERSET_SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("SUPERSET_ADMIN_PASSWORD", secrets.token_urlsafe(16))
    started = time.perf_counter()
    url, _admin, password = start_superset(settings)
    console.print(f"Superset up at {url} in {time.perf_counter() - started:.1f} s (prepare + gunicorn)")
    try:
        slugs = dashboard_slugs(bundle_files())
        replays, cookies = capture(url, password, slugs)
        serving = superset_env(settings).serving_db
        from lakehouse.lake.duck import connect

        direct = connect(str(serving), read_only=True)
        tables = [r[0] for r in direct.execute(
            "select table_schema || '.' || table_name from information_schema.tables order by 1").fetchall()]
        rows = {t: direct.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}

        # Idle connections are dropped before gunicorn's 2 s keep-alive closes them: otherwise a
        # request can go out on a socket the server is closing (a reset; browsers resend then).
        limits = httpx.Limits(keepalive_expiry=1.0)
        with httpx.Client(base_url=url, cookies=cookies, timeout=120, limits=limits) as client:
            charts = client.get("/api/v1/chart/", params={"q": "(page_size:200,columns:!(id,slice_name,viz_type,params))"},
                                headers={"Authorization": f"Bearer {_token(url, password)}"}).json()["result"]
            names = {c["id"]: c["slice_name"] for c in charts}
            layers = {c["id"]: json.loads(c["params"] or "{}").get("deck_slices", [])
                      for c in charts if c["viz_type"] == "deck_multi"}
            for replay in replays:
                replay.chart = names.get(int(replay.chart), replay.chart) if str(replay.chart).isdigit() else replay.chart
                replay.sql = sql_of(client, replay, layers)
                for statement in replay.sql:  # warm both sides once
                    direct.execute(statement).fetchall()
                _send(client, replay, force=True).raise_for_status()
            for _ in range(args.repeat):  # interleaved: load on the box hits both alike
                for replay in replays:
                    started = time.perf_counter()
                    response = _send(client, replay, force=True)
                    replay.superset_ms.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 200:
                        raise RuntimeError(f"{replay.dashboard}/{replay.chart}: HTTP {response.status_code}")
                    started = time.perf_counter()
                    for statement in replay.sql:
                        direct.execute(statement).fetchall()
                    replay.duckdb_ms.append((time.perf_counter() - started) * 1000)
            whole = dashboards_at_once(client, direct, replays, args.repeat)
    finally:
        stop_superset(settings)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    size = Table("table", "rows", title=f"Data size (lake ×{args.scale})")
    for table, count in rows.items():
        size.add_row(table, f"{count:,}")
    console.print(size)
    results = Table("dashboard", "charts", "requests", "Superset p50", "Superset p95", "DuckDB p50", "DuckDB p95",
                    "added p50", "ratio p50", "ratio p95", "verdict",
                    title=f"Chart queries, {args.repeat} runs each, cache bypassed (ms)")
    by_dashboard: dict[str, list[Replay]] = defaultdict(list)
    for replay in replays:
        by_dashboard[replay.dashboard].append(replay)
    failed = False
    for slug, group in by_dashboard.items():
        sup = [ms for r in group for ms in r.superset_ms]
        duck = [ms for r in group for ms in r.duckdb_ms]
        s50, s95, d50, d95 = (percentile(sup, 0.5), percentile(sup, 0.95), percentile(duck, 0.5), percentile(duck, 0.95))
        ok = s50 / d50 <= RATIO_TARGET and s95 < P95_TARGET_MS
        failed |= not ok
        added = percentile([ms for r in group for ms in r.added_ms], 0.5)
        results.add_row(slug, str(len({r.chart for r in group})), str(len(group)), f"{s50:.0f}", f"{s95:.0f}",
                        f"{d50:.1f}", f"{d95:.1f}", f"{added:.0f}", f"{s50 / d50:.2f}x", f"{s95 / d95:.2f}x",
                        "[green]PASS[/]" if ok else "[red]FAIL[/]")
    console.print(results)
    console.print(fixed_cost(replays))
    slowest = sorted(replays, key=lambda r: -statistics.median(r.superset_ms))[:5]
    console.print("slowest charts (median ms, Superset vs DuckDB): " + "; ".join(
        f"{r.dashboard}/{r.chart} {statistics.median(r.superset_ms):.0f} vs {statistics.median(r.duckdb_ms):.1f}"
        for r in slowest))
    console.print(f"targets: Superset ≤ {RATIO_TARGET}× DuckDB at p50 and Superset p95 < {P95_TARGET_MS:.0f} ms")
    loads = Table("dashboard", "requests", "Superset p50", "Superset p95", "DuckDB p50", "DuckDB p95", "ratio p50",
                  title=f"Whole dashboard, its requests at once on {BROWSER_CONNECTIONS} connections (ms)")
    for slug, (sup, duck) in whole.items():
        loads.add_row(slug, str(len(by_dashboard[slug])), f"{percentile(sup, 0.5):.0f}", f"{percentile(sup, 0.95):.0f}",
                      f"{percentile(duck, 0.5):.1f}", f"{percentile(duck, 0.95):.1f}",
                      f"{percentile(sup, 0.5) / percentile(duck, 0.5):.2f}x")
    console.print(loads)
    return 1 if failed else 0


def fixed_cost(replays: list[Replay]) -> str:
    """Superset's own time per chart request, and the query time 1.5× would take."""
    per_chart = sorted((statistics.median(r.added_ms), r) for r in replays)
    least, cheapest = per_chart[0]
    added = percentile([ms for r in replays for ms in r.added_ms], 0.5)
    queries = [statistics.median(r.duckdb_ms) for r in replays]
    needed = least / (RATIO_TARGET - 1)
    met = sum(q >= needed for q in queries)
    return (f"Superset's own time per chart request (its time minus the paired query's): p50 {added:.0f} ms, "
            f"least {least:.0f} ms ({cheapest.dashboard}/{cheapest.chart}). At ≤ {RATIO_TARGET}× a query must "
            f"take ≥ {needed:.0f} ms in DuckDB to absorb even the least; {met} of {len(queries)} do "
            f"(query p50s {min(queries):.1f}–{max(queries):.1f} ms).")


def dashboards_at_once(client: httpx.Client, direct: duckdb.DuckDBPyConnection, replays: list[Replay],
                       repeat: int) -> dict[str, tuple[list[float], list[float]]]:
    """Each dashboard's requests sent together (as its page does) vs its SQL on as many cursors."""
    by_dashboard: dict[str, list[Replay]] = defaultdict(list)
    for replay in replays:
        by_dashboard[replay.dashboard].append(replay)
    local = threading.local()  # one DuckDB cursor per pool thread: a cursor is not shared

    def run_sql(replay: Replay) -> None:
        if not hasattr(local, "cursor"):
            local.cursor = direct.cursor()
        for statement in replay.sql:
            local.cursor.execute(statement).fetchall()

    timings: dict[str, tuple[list[float], list[float]]] = {}
    with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
        for _ in range(repeat):
            for slug, group in by_dashboard.items():
                sup, duck = timings.setdefault(slug, ([], []))
                started = time.perf_counter()
                responses = list(pool.map(lambda r: _send(client, r, force=True), group))
                sup.append((time.perf_counter() - started) * 1000)
                if any(r.status_code != 200 for r in responses):
                    raise RuntimeError(f"{slug}: a request failed while loading the dashboard")
                started = time.perf_counter()
                list(pool.map(run_sql, group))
                duck.append((time.perf_counter() - started) * 1000)
    return timings


def _token(url: str, password: str) -> str:
    response = httpx.post(f"{url}/api/v1/security/login", json={"username": "admin", "password": password,
                                                                 "provider": "db"}, timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


if __name__ == "__main__":
    sys.exit(main())
