"""The real Superset over the whole province, opened in Debian's chromium.

Every dashboard of the bundle is opened as the admin with every request that leaves
Superset refused (no map tiles, no telemetry): the test waits on the DOM until each chart
has finished and fails on any chart that errors, is empty or — for the map — drew nothing.
Screenshots land in ``var/test-artifacts/superset/``. Then a department (Hạ Long, unit 193)
is shown to see only its rows, through the chart-data API and in the browser.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
import pytest
import yaml

from lakehouse.access import load_policy, unit_area
from lakehouse.lake import delta
from lakehouse.lake.extensions import extension_directory
from lakehouse.superset.browser import (
    VIEWPORT,
    block_tiles,
    browser,
    dashboard_slugs,
    login,
    open_dashboard,
)
from lakehouse.superset.bundle import bundle_files
from lakehouse.superset.env import superset_env

pytestmark = pytest.mark.slow
SLUGS = dashboard_slugs(bundle_files())
MAP = "Digital map: cameras, sensors, open incidents"


def _placed_charts(slug: str) -> list[str]:
    for name, text in bundle_files().items():
        data = yaml.safe_load(text)
        if name.startswith("dashboards/") and data["slug"] == slug:
            return [v["meta"]["sliceName"] for v in data["position"].values()
                    if isinstance(v, dict) and v.get("type") == "CHART"]
    raise KeyError(slug)


@pytest.fixture(scope="module")
def admin_run(superset, artifacts: Path) -> dict:
    """Every dashboard opened once as the admin, offline; what the browser saw."""
    refused: list[str] = []
    with browser() as instance:
        context = instance.new_context(viewport=VIEWPORT)
        block_tiles(context, superset.url)
        context.on("requestfailed", lambda request: refused.append(request.url))
        page = login(context, superset.url, superset.admin, superset.password)
        checks = {slug: open_dashboard(page, superset.url, slug, screenshot=artifacts / f"{slug}.png")
                  for slug in SLUGS}
        page.goto(f"{superset.url}/superset/dashboard/traffic-cameras/")
        page.wait_for_function("() => [...document.images].some(i => i.src.includes('/ioc/thumbnails/'))")
        page.wait_for_function("() => [...document.images].filter(i => i.src.includes('/ioc/thumbnails/'))"
                               ".every(i => i.complete)")
        thumbnails = page.evaluate("() => [...document.images].filter(i => i.src.includes('/ioc/thumbnails/'))"
                                   ".map(i => [i.src, i.naturalWidth])")
        context.close()
    return {"checks": checks, "refused": refused, "thumbnails": thumbnails}


def test_every_dashboard_renders_every_chart(admin_run) -> None:
    checks = admin_run["checks"]
    assert sorted(checks) == sorted(["ioc-overview", "digital-map", "environment", "traffic-cameras", "tourism",
                                     "public-services", "data-health"])
    problems = [f"{slug} / {c.name}: {c.state} {c.detail}" for slug, check in checks.items() for c in check.failures]
    assert not problems, "\n".join(problems)
    for slug, check in checks.items():
        assert sorted(c.name for c in check.charts) == sorted(_placed_charts(slug)), slug
        assert check.requests and all(r.status == 200 for r in check.requests), slug
        assert check.screenshot and check.screenshot.stat().st_size > 20_000, slug


def test_the_map_draws_its_layers_with_no_tiles(admin_run) -> None:
    check = admin_run["checks"]["digital-map"]
    chart = next(c for c in check.charts if c.name == MAP)
    assert chart.state == "rendered" and chart.pixels >= 150, chart
    assert any("openstreetmap.org" in url for url in admin_run["refused"]), "the base map asked for tiles"
    layers = [r.payload["data"]["features"] for r in check.requests
              if "explore_json" in r.url and r.payload and isinstance((r.payload.get("data") or {}).get("features"), list)
              and r.payload["data"]["features"]]
    assert len(layers) >= 4, "cameras, sensors, open incidents and units each sent features"
    for features in layers:
        assert all(f["position"][0] and f["position"][1] for f in features)


def test_a_chart_s_time_window_reaches_its_sql(admin_run) -> None:
    """A chart saved with a time window ("last 7 days") queries that window only, bounded on
    both sides in the SQL Superset ran; not the whole history under a "last 7 days" title."""
    windowed = []
    for check in admin_run["checks"].values():
        for request in check.requests:
            if "/api/v1/chart/data" not in request.url:
                continue
            form = json.loads(request.body)["form_data"]
            for column in [f["subject"] for f in form.get("adhoc_filters", []) if f.get("operator") == "TEMPORAL_RANGE"]:
                windowed.append((check.slug, form.get("slice_id"), column))
                for result in request.payload["result"]:
                    for op in (">=", "<"):
                        assert re.search(rf"\b{column} {op} '\d{{4}}-\d\d-\d\d", result["query"]), result["query"]
    assert len(windowed) >= 8, windowed


def test_thumbnails_are_served_to_logged_in_users_only(admin_run, superset) -> None:
    loaded = admin_run["thumbnails"]
    assert loaded and all(width > 0 for _, width in loaded), loaded[:3]
    anonymous = httpx.get(loaded[0][0], timeout=10)
    assert anonymous.status_code == 401
    escape = httpx.get(f"{superset.url}/ioc/thumbnails/../../../etc/passwd", timeout=10,
                       headers={"Authorization": f"Bearer {superset.token()}"})
    assert escape.status_code in (401, 404)


def _dataset_ids(superset) -> dict[str, int]:
    with superset.client() as client:
        response = client.get("/api/v1/dataset/", params={"q": "(page_size:100)"})
        response.raise_for_status()
        return {(f"{d['schema']}.{d['table_name']}" if not d.get("sql") else d["table_name"]): d["id"]
                for d in response.json()["result"]}


def _query(client, dataset_id: int, columns: list[str], metrics: list[str] | None = None):
    body = {"datasource": {"id": dataset_id, "type": "table"}, "force": True, "result_format": "json",
            "result_type": "full",
            "queries": [{"columns": columns, "metrics": metrics or ["count"], "row_limit": 10_000, "orderby": []}]}
    return client.post("/api/v1/chart/data", json=body)


def test_a_department_sees_only_its_rows(superset) -> None:
    ids = _dataset_ids(superset)
    area = set(unit_area("193"))  # Hạ Long and what the 2025 reform made of it
    with superset.client() as admin, superset.client("ha_long") as ha_long:
        for table in ("gold.citizen_requests", "gold.tourism_daily"):
            everything = _query(admin, ids[table], ["unit_code"]).json()["result"][0]["data"]
            response = _query(ha_long, ids[table], ["unit_code"])
            assert response.status_code == 200, response.text
            mine = response.json()["result"][0]["data"]
            assert mine and {row["unit_code"] for row in mine} <= area, table
            assert sum(r["count"] for r in mine) < sum(r["count"] for r in everything), table
            assert sum(r["count"] for r in mine) == sum(r["count"] for r in everything if r["unit_code"] in area)
        refused = _query(ha_long, ids["gold.incidents"], ["kind"])
        assert refused.status_code == 403, refused.text
        assert _query(ha_long, ids["ops.quality_results"], ["dataset"]).status_code == 403
        assert _query(admin, ids["gold.incidents"], ["kind"]).status_code == 200


def test_a_department_dashboard_in_the_browser(superset, artifacts: Path) -> None:
    policy = load_policy(superset.settings)
    area = set(unit_area(policy.departments["ha_long"].unit_code))
    with browser() as instance:
        context = instance.new_context(viewport=VIEWPORT)
        block_tiles(context, superset.url)
        page = login(context, superset.url, "ha_long", superset.logins["ha_long"])
        check = open_dashboard(page, superset.url, "tourism", screenshot=artifacts / "tourism-as-ha_long.png")
        context.close()
    states = {c.name: c for c in check.charts}
    assert states["Visitors by site"].ok and states["Visitors per day (last 7 days)"].ok
    # The scorecard reads sources Hạ Long is not granted: refused, not shown.
    assert states["Hotel occupancy"].state == "error"
    names = {r[0] for r in _serving(superset).execute(
        "select distinct unit_name_vi from gold.dim_admin_units where unit_code in "
        f"({', '.join(repr(c) for c in area)})").fetchall()}
    units = [row for r in check.requests if r.payload and "result" in r.payload
             for result in r.payload["result"] for row in result.get("data", []) if "unit_name_vi" in row]
    assert units and {row["unit_name_vi"] for row in units} <= names


def _serving(superset) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(superset_env(superset.settings).serving_db), read_only=True,
                         config={"extension_directory": extension_directory()})
    con.execute("LOAD delta")
    return con


def test_datasets_match_the_tables_they_read(superset) -> None:
    """A mart that changes its columns breaks the dataset that names them: caught here."""
    con = _serving(superset)
    for name, text in bundle_files().items():
        data = yaml.safe_load(text)
        if not name.startswith("datasets/") or data.get("sql"):
            continue
        declared = {c["column_name"] for c in data["columns"] if not c.get("expression")}
        actual = {r[0] for r in con.execute(f"describe {data['schema']}.{data['table_name']}").fetchall()}
        assert declared == actual, f"{name}: missing {sorted(declared - actual)}, new {sorted(actual - declared)}"


def test_the_map_shows_each_sensor_s_newest_reading(superset) -> None:
    """The map's sensor layer takes each sensor's newest reading in one pass (max_by, no sort
    of the history): the same rows as ranking every reading by time."""
    dataset = next(yaml.safe_load(t) for n, t in bundle_files().items()
                   if n.startswith("datasets/") and yaml.safe_load(t)["table_name"] == "map_sensors_latest")
    con = _serving(superset)
    shown = con.execute(f"SELECT device_id, reading_at, measure, reading, level FROM ({dataset['sql']}) "
                        "ORDER BY device_id").fetchall()
    newest = con.execute("""
        WITH readings AS (
          SELECT station_code AS device_id, observed_at AS reading_at, 'VN_AQI' AS measure, CAST(vn_aqi AS DOUBLE) AS value,
                 aqi_level AS level FROM gold.air_quality_hourly
          UNION ALL SELECT station_code, observed_at, 'water level (cm)', water_level_cm, alarm_level FROM gold.water_levels
          UNION ALL SELECT device_id, bucket_start, 'vehicles per hour', vehicles_per_hour,
                           CASE WHEN congestion_index >= 0.5 THEN 3 ELSE 1 END FROM gold.traffic_flow_15min)
        SELECT s.device_id, r.reading_at, r.measure, r.value, COALESCE(r.level, 0) FROM gold.dim_sensors s
        LEFT JOIN (FROM readings QUALIFY row_number() OVER (PARTITION BY device_id ORDER BY reading_at DESC) = 1) r
          ON r.device_id = s.device_id ORDER BY s.device_id""").fetchall()
    assert shown == newest
    assert sum(row[1] is not None for row in shown) >= 3, "sensors with readings are on the map"


def test_the_bundle_round_trips_through_superset(superset, tmp_path: Path) -> None:
    """What Superset exports right after importing the bundle is the bundle: nothing to write."""
    import shutil

    from lakehouse.superset import export_assets
    from lakehouse.superset.env import BUNDLE_DIR

    bundle = tmp_path / "assets"
    shutil.copytree(BUNDLE_DIR, bundle)
    result = export_assets(superset.settings, bundle=bundle)
    import difflib

    diffs = ["".join(difflib.unified_diff((BUNDLE_DIR / n).read_text().splitlines(True),
                                          (bundle / n).read_text().splitlines(True), n, n, n=1))
             for n in result.written if (BUNDLE_DIR / n).exists()]
    assert result.written == [] and result.missing == [], "\n".join(diffs)[:3000]


def test_charts_read_new_commits_while_writers_write(superset) -> None:
    """Writers commit to a table a dashboard reads while charts query it: no lock, no
    error, and the next query shows the commit with no restart. (Runs last: it adds rows.)"""
    ids = _dataset_ids(superset)
    uri = f"{superset.settings.lake_root}/ops/quality_results"
    table = delta.read(uri)
    template = table.slice(0, 1).to_pylist()[0]
    with superset.client() as client:
        before = _query(client, ids["ops.quality_results"], []).json()["result"][0]["data"][0]["count"]
        statuses: list[int] = []
        stop = threading.Event()

        def chart_reader() -> None:
            with superset.client() as reader:
                while not stop.is_set():
                    statuses.append(_query(reader, ids["ops.quality_results"], ["dataset"]).status_code)

        def queries_run(count: int) -> None:  # the readers got through `count` more queries
            target, deadline = len(statuses) + count, time.monotonic() + 60
            while len(statuses) < target and time.monotonic() < deadline:
                time.sleep(0.05)

        readers = [threading.Thread(target=chart_reader) for _ in range(3)]
        for thread in readers:
            thread.start()
        queries_run(3)
        for _ in range(5):  # each commit lands while chart queries are in flight
            batch = f"concurrency-{uuid.uuid4()}"
            row = {**template, "batch_id": batch, "checked_at": datetime.now(UTC)}
            delta.append(uri, pa.Table.from_pylist([row], schema=table.schema), batch_id=batch)
            queries_run(3)
        stop.set()
        for thread in readers:
            thread.join()
        after = _query(client, ids["ops.quality_results"], []).json()["result"][0]["data"][0]["count"]
    assert len(statuses) >= 18 and set(statuses) == {200}
    assert after == before + 5
