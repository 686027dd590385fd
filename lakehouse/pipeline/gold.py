"""Silver → gold: ``dbt build`` on dbt-duckdb, then the marts published to the lake as Delta.

dbt-duckdb reads silver through ``delta_scan`` and materialises marts in a DuckDB file (the
"warehouse"); DuckDB 1.4 cannot write Delta, so each mart in schema ``gold`` is then written
to ``{lake}/gold/<model>`` by delta-rs in one atomic overwrite per table.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from lakehouse.lake import delta
from lakehouse.lake.duck import extension_directory, load_extensions
from lakehouse.lake.paths import Tier, list_tables, storage_options, table_uri
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)
GOLD_SCHEMA = "gold"


class DbtFailed(RuntimeError):
    pass


def dbt_env(settings: Settings) -> dict[str, str]:
    var = settings.warehouse_path.parent
    return {
        "IOC_LAKE_ROOT": settings.lake_root.rstrip("/"),
        "IOC_WAREHOUSE_PATH": str(settings.warehouse_path),
        "IOC_TIMEZONE": settings.timezone,
        "IOC_DUCKDB_EXTENSION_DIR": extension_directory(),
        "DBT_TARGET_PATH": str(var / "dbt_target"),
        "DBT_LOG_PATH": str(var / "dbt_logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


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
    executable = str(Path(sys.executable).with_name("dbt"))
    command = [executable, *args, "--project-dir", project, "--profiles-dir", project]
    log.info("running %s", " ".join(command))
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    for line in completed.stdout.splitlines():
        log.info("dbt: %s", line)
    run_results = Path(env["DBT_TARGET_PATH"]) / "run_results.json"
    data = json.loads(run_results.read_text()) if run_results.exists() else {}
    if completed.returncode != 0:
        failures = [f"{r['unique_id']}: {r.get('message')}" for r in data.get("results", [])
                    if r.get("status") in ("error", "fail")]
        tail = "\n".join(completed.stdout.splitlines()[-15:])
        raise DbtFailed(f"dbt {' '.join(args)} failed: {failures or tail}")
    return DbtRun(args, data.get("results", []), data.get("metadata", {}).get("invocation_id", ""))


def ready_sources(settings: Settings) -> list[str]:
    return [name for tier, name, _ in list_tables(settings) if tier is Tier.silver]


@dataclass
class GoldResult:
    built: list[str] = field(default_factory=list)
    published: dict[str, int] = field(default_factory=dict)


def incremental_marts(settings: Settings) -> dict[str, dict]:
    """Marts that publish incrementally: ``meta.delta_publish`` (keys, partition_by) in the
    manifest of the last dbt run."""
    manifest = Path(dbt_env(settings)["DBT_TARGET_PATH"]) / "manifest.json"
    if not manifest.exists():
        return {}
    nodes = json.loads(manifest.read_text(encoding="utf-8")).get("nodes", {})
    return {n["name"]: n["config"]["meta"]["delta_publish"] for n in nodes.values()
            if n.get("resource_type") == "model" and "delta_publish" in (n.get("config", {}).get("meta") or {})}


def publish_gold(settings: Settings | None = None, *, run_id: str | None = None) -> dict[str, int]:
    """Write every table of the warehouse's ``gold`` schema to ``{lake}/gold/<name>``."""
    settings = settings or get_settings()
    run_id = run_id or uuid.uuid4().hex
    published: dict[str, int] = {}
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        load_extensions(con)
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? and table_type = 'BASE TABLE' order by 1", [GOLD_SCHEMA]).fetchall()]
        incremental = incremental_marts(settings)
        for name in names:
            uri, options = table_uri(Tier.gold, name, settings), storage_options(settings)
            spec = incremental.get(name)
            if spec and delta.try_open(uri, options) is not None:
                # Only what this run changed: rows not already in gold, merged on the model's
                # keys, so only the partitions they fall in get new files.
                columns = ", ".join(f'"{c[0]}"' for c in con.execute(
                    f'select * from {GOLD_SCHEMA}."{name}" limit 0').description)
                # Only rows that arrived within the model's late-data window of the newest row
                # already published can have changed: compare those, not the whole history
                # (Delta file statistics skip the older files).
                since = ""
                if spec.get("watermark"):
                    mark, hours = spec["watermark"], int(spec.get("window_hours", 48))
                    since = (f'where "{mark}" > (select max("{mark}") - interval {hours} hour '
                             f"from delta_scan('{uri}'))")
                changed = con.execute(
                    f'select {columns} from {GOLD_SCHEMA}."{name}" {since} '
                    f"except select {columns} from delta_scan('{uri}') {since}"
                ).fetch_arrow_table()
                delta.merge(uri, changed, keys=spec["keys"], batch_id=f"gold:{name}:{run_id}",
                            partition_by=spec.get("partition_by"), configuration=None, storage_options=options)
                published[name] = changed.num_rows
                continue
            table = con.execute(f'select * from {GOLD_SCHEMA}."{name}"').fetch_arrow_table()
            if spec:
                delta.replace(uri, table, batch_id=f"gold:{name}:{run_id}", storage_options=options,
                              partition_by=spec.get("partition_by"))
            else:
                delta.replace(uri, table, batch_id=f"gold:{name}:{run_id}", storage_options=options)
            published[name] = table.num_rows
    finally:
        con.close()
    return published


def build_gold(settings: Settings | None = None) -> GoldResult:
    """Build and test every model downstream of a silver table that exists, then publish."""
    settings = settings or get_settings()
    sources = ready_sources(settings)
    result = GoldResult()
    if not sources:
        log.warning("no silver tables yet: nothing to build")
        return result
    from lakehouse.orchestration import dbt_silver_sources

    # Everything downstream of a silver table that exists, less what also needs one that does
    # not exist yet; "cautious" keeps a test out unless all its parents are selected.
    selector = " ".join(f"source:silver.{name}+" for name in sources)
    missing = sorted(set(dbt_silver_sources(settings.dbt_project_dir)) - set(sources))
    args = ["build", "--select", selector, "resource_type:seed", "--indirect-selection", "cautious"]
    if missing:
        log.warning("silver tables not built yet, their marts wait: %s", missing)
        args += ["--exclude", *(f"source:silver.{name}+" for name in missing)]
    run = run_dbt(args, settings)
    result.built = [r["unique_id"].split(".")[-1] for r in run.results if r["unique_id"].startswith("model.")]
    result.published = publish_gold(settings, run_id=run.invocation_id or None)
    return result


def generate_docs(settings: Settings | None = None) -> Path:
    """``dbt docs generate``: the static site (models, columns, tests, lineage, exposures)
    over the warehouse as built; returns its index.html."""
    settings = settings or get_settings()
    run_dbt(["docs", "generate", "--static"], settings)  # one self-contained file: opens from file://
    return Path(dbt_env(settings)["DBT_TARGET_PATH"]) / "static_index.html"
