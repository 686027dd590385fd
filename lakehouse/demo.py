"""``ioc demo`` / ``make demo``: the province on one machine, from generated sources to gold.

Runs the real Airflow DAGs (``dag.test()`` on a SQLite metadata DB under ``var/airflow``) in
the order their Assets link them, then prints where to look.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from lakehouse.settings import REPO_ROOT, Settings, get_settings


def airflow_environment(home: Path, dags_folder: Path | None = None) -> dict[str, str]:
    """Environment for an embedded Airflow: SQLite metadata DB, no examples, our dags/."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder or REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
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
    """DAG ids in Asset order: every ingest, then every silver, then dbt."""
    from lakehouse import orchestration as orch

    systems = orch.systems()
    ingest = [f"ingest_{s}" for s in sorted(systems)]
    silver = [f"silver_{c.name}" for cs in systems.values() for c in sorted(cs, key=lambda c: c.name)]
    return [*ingest, *silver, "gold_dbt"]


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


def run_demo(*, scale: int = 1, seed: int = 42, fresh: bool = True, console: Console | None = None,
             settings: Settings | None = None) -> dict[str, str]:
    console = console or Console()
    settings = settings or get_settings()
    var = REPO_ROOT / "var"
    if fresh:
        for folder in (Path(settings.lake_root), settings.landing_root, settings.warehouse_path.parent,
                       var / "sources"):
            shutil.rmtree(folder, ignore_errors=True)
    from lakehouse.generate import generate

    manifest = generate(var / "sources", scale=scale, seed=seed, progress=True)
    delivered = deliver(var / "sources", settings.landing_root)
    console.print(f"[bold]Generated[/] {len(manifest.datasets)} sources, delivered {delivered} files "
                  f"to {settings.landing_root}")
    prepare_airflow(var / "airflow")
    states = run_dags(pipeline_order(), console)
    failed = {k: v for k, v in states.items() if v != "success"}

    from lakehouse.lake.duck import lake_connection

    con = lake_connection(settings)
    table = Table("table", "rows", title="The lake after the demo")
    for (name,) in con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('bronze','quarantine','silver','gold','ops') order by 1").fetchall():
        table.add_row(name, str(con.execute(f"select count(*) from {name}").fetchone()[0]))
    console.print(table)
    console.print(
        "\n[bold]Where to look[/]\n"
        f"  lake (Delta):      {settings.lake_root}\n"
        f"  landing zone:      {settings.landing_root}  (processed/ and failed/ per source)\n"
        f"  generated sources: {var / 'sources'}  (manifest.json lists injected defects)\n"
        f"  Airflow:           AIRFLOW_HOME={var / 'airflow'} .venv/bin/airflow standalone\n"
        "  query:             .venv/bin/ioc sql \"select * from gold.tourism_daily order by total_visitors desc limit 10\"\n"
        "                     .venv/bin/ioc sql \"select _stage, _rule, count(*) from quarantine.tourism_daily_arrivals group by all\"\n"
        "                     .venv/bin/ioc lake tables · .venv/bin/ioc lake history silver.tourism_daily_arrivals"
    )
    if failed:
        raise RuntimeError(f"DAG runs failed: {failed}")
    return states
