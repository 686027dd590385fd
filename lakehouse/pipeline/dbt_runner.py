"""The dbt CLI with the platform's paths, and the parsed project (manifest) the DAGs render.

Light on purpose: the gold DAG imports this at parse time, so nothing here imports DuckDB or
dbt itself; dbt runs as a subprocess.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lakehouse.lake.extensions import extension_directory
from lakehouse.lake.storage import duckdb_secret_env
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)
# Files whose change changes the parsed project (and so the tasks the gold DAG renders).
_PROJECT_FILES = ("*.sql", "*.yml", "*.yaml", "*.csv", "*.md")


class DbtFailed(RuntimeError):
    pass


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment for every dbt invocation: where the lake and warehouse are, the time zone
    the models convert to, where dbt writes its artifacts (outside the repository) and, for a
    lake on S3, the DuckDB secret derived from ``IOC_STORAGE_OPTIONS`` (profiles.yml)."""
    var = settings.warehouse_path.parent
    return {
        "IOC_LAKE_ROOT": settings.lake_root.rstrip("/"),
        "IOC_WAREHOUSE_PATH": str(settings.warehouse_path),
        "IOC_TIMEZONE": settings.timezone,
        "IOC_DUCKDB_EXTENSION_DIR": extension_directory(),
        "DBT_TARGET_PATH": str(var / "dbt_target"),
        "DBT_LOG_PATH": str(var / "dbt_logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **duckdb_secret_env(settings),
    }


def dbt_executable() -> str:
    return str(Path(sys.executable).with_name("dbt"))


@dataclass
class DbtRun:
    args: list[str]
    results: list[dict]  # run_results.json "results"
    invocation_id: str


def run_dbt(args: list[str], settings: Settings | None = None) -> DbtRun:
    """Run the dbt CLI against ``dbt_project/`` with the platform's paths.

    A subprocess, not ``dbtRunner``: dbt-duckdb keeps its DuckDB connection open for the
    life of the process, which would lock the warehouse file against the publish step."""
    settings = settings or get_settings()
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    project = str(settings.dbt_project_dir)
    env = {**os.environ, **dbt_env(settings)}
    command = [dbt_executable(), *args, "--project-dir", project, "--profiles-dir", project]
    log.info("running %s", " ".join(command))
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    for line in completed.stdout.splitlines():
        log.info("dbt: %s", line)
    run_results = Path(env["DBT_TARGET_PATH"]) / "run_results.json"
    data = json.loads(run_results.read_text()) if run_results.exists() else {}
    if completed.returncode != 0:
        failures = [f"{r['unique_id']}: {r.get('message')}" for r in data.get("results", [])
                    if r.get("status") in ("error", "fail")]
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-15:])
        raise DbtFailed(f"dbt {' '.join(args)} failed: {failures or tail}")
    return DbtRun(args, data.get("results", []), data.get("metadata", {}).get("invocation_id", ""))


def manifest_path(settings: Settings | None = None) -> Path:
    """The project's parsed manifest, in dbt's usual place (``dbt_project/target``, ignored by
    git): it describes the project, not the lake, so every lake shares it."""
    settings = settings or get_settings()
    return settings.dbt_project_dir / "target" / "manifest.json"


def _newest_project_file(project_dir: Path) -> float:
    newest = 0.0
    for folder in ("models", "macros", "seeds", "tests", "snapshots", "analyses"):
        for pattern in _PROJECT_FILES:
            for path in (project_dir / folder).rglob(pattern):
                newest = max(newest, path.stat().st_mtime)
    for name in ("dbt_project.yml", "packages.yml"):
        if (project_dir / name).exists():
            newest = max(newest, (project_dir / name).stat().st_mtime)
    return newest


def ensure_manifest(settings: Settings | None = None) -> Path:
    """The manifest the gold DAG renders its tasks from (cosmos ``LoadMode.DBT_MANIFEST``).

    Re-parsed (``dbt parse``, a few seconds) only when a project file is newer than it, so a
    changed model shows up in Airflow without a manual step and an unchanged project costs a
    directory scan. A file lock keeps concurrent DAG parses from writing it twice."""
    from filelock import FileLock

    settings = settings or get_settings()
    path = manifest_path(settings)
    if path.exists() and path.stat().st_mtime >= _newest_project_file(settings.dbt_project_dir):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=300):
        if path.exists() and path.stat().st_mtime >= _newest_project_file(settings.dbt_project_dir):
            return path
        log.info("dbt project changed: parsing it into %s", path)
        run_dbt(["parse", "--target-path", str(path.parent)], settings)
    return path
