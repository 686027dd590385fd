"""``ioc demo`` / ``make demo``: the province on one machine, from generated sources to gold.

Runs the real Airflow DAGs (``dag.test()`` on a SQLite metadata DB under ``var/airflow``) in
the order their Assets link them, then prints where to look.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from lakehouse.settings import REPO_ROOT, Settings, get_settings, reset_settings_cache


def airflow_environment(home: Path, dags_folder: Path | None = None) -> dict[str, str]:
    """Environment for an embedded Airflow: SQLite metadata DB, no examples, our dags/."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder or REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        # Nothing phones home: Airflow's and cosmos' usage reporting are off (and no network
        # is reachable here anyway; each attempt would only cost a DNS timeout).
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "SCARF_NO_ANALYTICS": "true",
        "DO_NOT_TRACK": "true",
    }


def prepare_airflow(home: Path) -> dict[str, str]:
    """Create/migrate the metadata DB once; set the environment for this process."""
    env = airflow_environment(home)
    os.environ.update(env)
    if not (home / "airflow.db").exists():
        home.mkdir(parents=True, exist_ok=True)
        airflow = str(Path(sys.executable).with_name("airflow"))
        subprocess.run([airflow, "db", "migrate"], env={**os.environ, **env}, check=True,
                       capture_output=True)
    return env


def deliver(sources: Path, landing_root: Path) -> int:
    """Copy generated deliveries into the landing zone, as departments would drop them."""
    count = 0
    for path in (sources / "landing").rglob("*"):
        if path.is_file():
            target = landing_root / path.relative_to(sources / "landing")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            count += 1
    return count


def pipeline_order() -> list[str]:
    """DAG ids in Asset order: every ingest, then every silver (registries first, so the gate's
    reference checks have something to look up), then dbt, then forecasting (Spark + MLflow,
    which also refreshes the alert marts and routes alerts), then video indexing (Spark +
    OpenCV, which refreshes camera counts and incidents), then the open-data export, then the
    freshness check."""
    from lakehouse import orchestration as orch

    systems = orch.systems()
    ingest = [f"ingest_{s}" for s in sorted(systems)]
    contracts = [c for cs in systems.values() for c in cs]
    silver = [f"silver_{c.name}" for c in orch.referenced_first(contracts)]
    return [*ingest, *silver, "gold_dbt", "ml_forecast", "video_index", "open_data", "ops_freshness"]


def run_dags(dag_ids: list[str], console: Console | None = None) -> dict[str, str]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    states: dict[str, str] = {}
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("Airflow DAG runs", total=len(dag_ids))
        for dag_id in dag_ids:
            progress.update(task, description=f"dag.test {dag_id}")
            run = bag.dags[dag_id].test()
            states[dag_id] = str(run.state)
            progress.advance(task)
    return states


def connect_sources(sources: Path, settings: Settings, var: Path, console: Console) -> object:
    """:func:`prepare_sources`, then point this process's settings at them. Returns the
    running API simulator (stop it when done)."""
    simulator, env = prepare_sources(sources, settings, var, console)
    os.environ.update(env)
    reset_settings_cache()
    return simulator


def prepare_sources(sources: Path, settings: Settings, var: Path, console: Console) -> tuple[object, dict[str, str]]:
    """Stand up every department's source from the generated data, the way it is delivered:
    file drops, department databases, the API servers, the sensor stream. Returns the running
    API simulator and the settings (environment variables) that reach them; nothing global
    is changed, so a test can apply them to its own scope."""
    from lakehouse.contracts import load_catalog
    from lakehouse.ingest.database import URL_SETTINGS, DatabaseSource
    from lakehouse.simulators.department_db import generated_rows, seed_department_db
    from lakehouse.simulators.http_api import serve_generated

    catalog = load_catalog(settings.catalog_dir)
    delivered = deliver(sources, settings.landing_root)
    env: dict[str, str] = {}

    # Department databases: the configured servers, or SQLite files standing in for them.
    for contract in catalog.by_kind("database"):
        _, variable = URL_SETTINGS[DatabaseSource.from_contract(contract).engine]
        url = os.environ.get(variable) or f"sqlite:///{var / 'departments' / f'{contract.source.system}.sqlite'}"
        (var / "departments").mkdir(parents=True, exist_ok=True)
        seed_department_db(contract, url, generated_rows(sources, contract))
        env[variable] = url

    # Department REST APIs and Open311: a local server speaking their wire formats.
    simulator = serve_generated(sources, catalog=catalog)
    env["IOC_API_BASE_URLS"] = json.dumps(simulator.base_urls)

    # Sensors: published to the MQTT broker when one is configured, else JSONL drops.
    sensors = catalog.by_kind("mqtt")
    if os.environ.get("IOC_MQTT_URL"):
        from lakehouse.ingest.mqtt import drain
        from lakehouse.simulators.mqtt_publisher import publish_generated

        url = os.environ["IOC_MQTT_URL"]
        # The consumer is a service in production: run it while the sensors publish (a broker
        # queues only max_queued_messages for an offline session, 1000 by default).
        consumer = threading.Thread(target=drain, args=(sensors, settings),
                                    kwargs={"url": url, "idle_seconds": 5.0, "max_seconds": 300})
        consumer.start()
        time.sleep(1.0)  # subscribed before the first message
        published = publish_generated(sources, url, qos=1)
        consumer.join()
        console.print(f"published {published} NGSI-LD messages to {url} and consumed them live")
    else:
        for contract in sensors:
            drop = settings.landing_root / contract.source.location / "incoming"
            drop.mkdir(parents=True, exist_ok=True)
            shutil.copy2(sources / "mqtt" / f"{contract.name}.jsonl", drop / f"{contract.name}.jsonl")

    console.print(f"[bold]Sources ready[/]: {delivered} files dropped, databases at "
                  f"{', '.join(sorted({env[k] for k in env if k.endswith('_URL')}))}, APIs at {simulator.base_url}")
    return simulator, env


def run_demo(*, scale: int = 1, seed: int = 42, fresh: bool = True, console: Console | None = None,
             settings: Settings | None = None) -> dict[str, str]:
    console = console or Console()
    settings = settings or get_settings()
    var = REPO_ROOT / "var"
    if fresh:
        stop_services(settings)  # they would keep serving the lake and stores deleted below
        for folder in (Path(settings.lake_root), settings.landing_root, settings.warehouse_path.parent,
                       var / "sources", var / "departments", settings.gx_root, Path(settings.mlflow_root)):
            shutil.rmtree(folder, ignore_errors=True)
    from lakehouse.generate import generate

    # The last two weeks up to today: sensor clocks are checked against receipt, and
    # freshness and the dashboards read as an operator would see them.
    days = 14
    manifest = generate(var / "sources", scale=scale, seed=seed, days=days,
                        start=date.today() - timedelta(days=days), progress=True)
    console.print(f"[bold]Generated[/] {len(manifest.datasets)} sources into {var / 'sources'}")
    simulator = connect_sources(var / "sources", settings, var, console)
    try:
        prepare_airflow(var / "airflow")
        states = run_dags(pipeline_order(), console)
    finally:
        simulator.stop()
    failed = {k: v for k, v in states.items() if v != "success"}
    from lakehouse.pipeline.gold import generate_docs

    dbt_docs = generate_docs(settings) if not failed else None

    from lakehouse.cli import status
    from lakehouse.quality.checkpoint import data_docs_index

    status()
    urls = start_services(settings, console)
    console.print(
        "\n[bold]Where to look[/]\n"
        f"  lake (Delta):      {settings.lake_root}\n"
        f"  landing zone:      {settings.landing_root}  (processed/ and failed/ per source)\n"
        f"  Data Docs (GX):    file://{data_docs_index(settings)}\n"
        f"  dbt docs:          file://{dbt_docs}\n"
        f"  generated sources: {var / 'sources'}  (manifest.json lists injected defects)\n"
        f"  Airflow UI:        {urls['airflow']}  (the demo's DAG runs)\n"
        f"  MLflow:            {urls['mlflow']}  (runs, plots, model ioc_forecaster@champion)\n"
        f"  Superset:          {urls['superset']}  (7 dashboards and the digital map; department logins: "
        f"{settings.superset_home / 'users.json'})\n"
        f"  SQL (Trino):       {urls['sql']}  (e.g. .venv/bin/python -c \"import trino; c = trino.dbapi.connect("
        f"host='127.0.0.1', port={settings.sql_gateway_port}, user='transport', catalog='lake', schema='gold').cursor(); "
        f"c.execute('show tables'); print(c.fetchall())\")\n"
        f"  Open311 API:       {urls['public']}/requests.json · {urls['public']}/services.xml · schema "
        f"{urls['public']}/openapi.json\n"
        f"  open data:         {urls['public']}/opendata/catalog.json  (files in {settings.opendata_path})\n"
        "  stop them all:     .venv/bin/ioc stop\n"
        "  notebooks:         ml/notebooks/*.ipynb (.venv/bin/python -m papermill … or open in Jupyter/VS Code)\n"
        "  query:             .venv/bin/ioc sql \"select * from gold.tourism_daily order by total_visitors desc limit 10\"\n"
        "                     .venv/bin/ioc sql \"select _stage, _rule, count(*) from quarantine.tourism_daily_arrivals group by all\"\n"
        "                     .venv/bin/ioc sql \"select alert_type, series_id, predicted_breach_at, predicted_peak from gold.forecast_alerts\"\n"
        "  video index:       .venv/bin/ioc video search --class person --min-count 5 · "
        ".venv/bin/ioc video search --event stopped_vehicle\n"
        f"                     thumbnails under {settings.lake_root}/objects/thumbnails/video/\n"
        "                     .venv/bin/ioc status · .venv/bin/ioc lake tables · .venv/bin/ioc lake history silver.tourism_daily_arrivals"
    )
    if failed:
        raise RuntimeError(f"DAG runs failed: {failed}")
    return states


def _services(settings: Settings) -> dict[str, tuple]:
    """What ``make demo`` leaves running: name → (start, stop). Each start returns a URL or
    (url, user, password); all listen on loopback."""
    from lakehouse.airflow_ui import start_airflow_ui, stop_airflow_ui
    from lakehouse.gateway.service import start_gateway, stop_gateway
    from lakehouse.ml.server import start_server as start_mlflow
    from lakehouse.ml.server import stop_server as stop_mlflow
    from lakehouse.publicapi import start_server as start_public
    from lakehouse.publicapi import stop_server as stop_public
    from lakehouse.superset import start_superset, stop_superset

    return {
        "airflow": (lambda: start_airflow_ui(REPO_ROOT / "var" / "airflow"), lambda: stop_airflow_ui()),
        "mlflow": (lambda: start_mlflow(settings), lambda: stop_mlflow(settings)),
        "superset": (lambda: start_superset(settings), lambda: stop_superset(settings)),
        "sql": (lambda: start_gateway(settings), lambda: stop_gateway(settings)),
        "public": (lambda: start_public(settings), lambda: stop_public(settings)),
    }


def start_services(settings: Settings, console: Console) -> dict[str, str]:
    """Start the UIs and APIs over the demo's lake; print each login. A service that cannot
    start is reported, not fatal: the lake is there either way."""
    urls: dict[str, str] = {}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("starting services", total=len(_services(settings)))
        for name, (start, _) in _services(settings).items():
            progress.update(task, description=f"starting {name}")
            try:
                started = start()
            except RuntimeError as exc:
                urls[name] = f"not started ({exc})"
            else:
                if isinstance(started, tuple):
                    url, user, password = started
                    urls[name] = f"{url}  login {user} / {password}"
                else:
                    urls[name] = started
            progress.advance(task)
    return urls


def stop_services(settings: Settings) -> list[str]:
    """Stop whatever :func:`start_services` started; returns the names that were running."""
    return [name for name, (_, stop) in _services(settings).items() if stop()]
