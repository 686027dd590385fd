"""Silver → gold: ``dbt build`` on dbt-duckdb, then the marts published to the lake as Delta.

dbt-duckdb reads silver through ``delta_scan`` and materialises marts in a DuckDB file (the
"warehouse"); DuckDB 1.4 cannot write Delta, so each mart in schema ``gold`` is then written
to ``{lake}/gold/<model>`` by delta-rs in one atomic overwrite per table.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from lakehouse.lake import delta
from lakehouse.lake.duck import configure_storage, load_extensions
from lakehouse.lake.paths import Tier, list_tables, storage_options, table_uri
from lakehouse.pipeline.dbt_runner import DbtFailed, DbtRun, dbt_env, run_dbt
from lakehouse.pipeline.platform_tables import ensure_platform_tables
from lakehouse.settings import Settings, get_settings

__all__ = ["GOLD_SCHEMA", "DbtFailed", "DbtRun", "GoldResult", "build_gold", "build_marts", "dbt_env",
           "generate_docs", "incremental_marts", "missing_sources", "publish_gold", "ready_sources", "refresh_forecast_marts",
           "refresh_video_marts", "run_dbt"]

log = logging.getLogger(__name__)
GOLD_SCHEMA = "gold"


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


def last_invocation_id(settings: Settings) -> str | None:
    run_results = Path(dbt_env(settings)["DBT_TARGET_PATH"]) / "run_results.json"
    if not run_results.exists():
        return None
    return json.loads(run_results.read_text(encoding="utf-8")).get("metadata", {}).get("invocation_id")


def published_columns(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    """Column name -> select expression publishing it to Delta. A sum of integers in DuckDB is a
    HUGEINT, which Delta can only hold as decimal(38,0): every reader (pandas, Superset, the
    Trino gateway) would get decimals for head counts. Published as BIGINT instead; a value
    that does not fit fails the cast (and the publish) rather than being wrapped."""
    types = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position", [GOLD_SCHEMA, name]).fetchall()
    return {column: (f'cast("{column}" as bigint) as "{column}"' if kind in ("HUGEINT", "UHUGEINT")
                     else f'"{column}"') for column, kind in types}


def publish_gold(settings: Settings | None = None, *, run_id: str | None = None,
                 only: list[str] | None = None) -> dict[str, int]:
    """Write every table of the warehouse's ``gold`` schema (or those in ``only``) to
    ``{lake}/gold/<name>``."""
    settings = settings or get_settings()
    # The dbt invocation that built the warehouse names the commits: publishing the same build
    # twice (a retried task) finds its batch already committed and writes nothing.
    run_id = run_id or last_invocation_id(settings) or uuid.uuid4().hex
    published: dict[str, int] = {}
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        load_extensions(con)
        configure_storage(con, settings)  # delta_scan of gold on S3 goes through httpfs
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? and table_type = 'BASE TABLE' order by 1", [GOLD_SCHEMA]).fetchall()]
        names = [n for n in names if only is None or n in only]
        incremental = incremental_marts(settings)
        for name in names:
            uri, options = table_uri(Tier.gold, name, settings), storage_options(settings)
            spec = incremental.get(name)
            published = published_columns(con, name)
            if spec and delta.try_open(uri, options) is not None:
                # Only what this run changed: rows not already in gold, merged on the model's
                # keys, so only the partitions they fall in get new files.
                columns = ", ".join(f'"{c}"' for c in published)
                # Only rows that arrived within the model's late-data window of the newest row
                # already published can have changed: compare those, not the whole history
                # (Delta file statistics skip the older files).
                since = ""
                if spec.get("watermark"):
                    mark, hours = spec["watermark"], int(spec.get("window_hours", 48))
                    since = (f'where "{mark}" > (select max("{mark}") - interval {hours} hour '
                             f"from delta_scan('{uri}'))")
                changed = con.execute(
                    f'select {", ".join(published.values())} from {GOLD_SCHEMA}."{name}" {since} '
                    f"except select {columns} from delta_scan('{uri}') {since}"
                ).fetch_arrow_table()
                delta.merge(uri, changed, keys=spec["keys"], batch_id=f"gold:{name}:{run_id}",
                            partition_by=spec.get("partition_by"), configuration=None, storage_options=options)
                published[name] = changed.num_rows
                continue
            table = con.execute(f'select {", ".join(published.values())} from {GOLD_SCHEMA}."{name}"'
                                ).fetch_arrow_table()
            if spec:
                delta.replace(uri, table, batch_id=f"gold:{name}:{run_id}", storage_options=options,
                              partition_by=spec.get("partition_by"))
            else:
                delta.replace(uri, table, batch_id=f"gold:{name}:{run_id}", storage_options=options)
            published[name] = table.num_rows
    finally:
        con.close()
    return published


def missing_sources(settings: Settings | None = None) -> list[str]:
    """Silver tables the dbt project reads that are not in the lake yet."""
    from lakehouse.orchestration import dbt_silver_sources

    settings = settings or get_settings()
    return sorted(set(dbt_silver_sources(settings.dbt_project_dir)) - set(ready_sources(settings)))


def build_marts(settings: Settings | None = None, *, downstream_of: str | None = None) -> list[str]:
    """``dbt build`` (models and their tests) of every model whose silver tables all exist;
    returns the models built. Marts that also need a missing silver table wait for it.

    ``downstream_of`` (a dbt selector such as ``source:ml+``) narrows the build to what reads
    one input: the forecasting DAG rebuilds only the alert marts after a new forecast."""
    settings = settings or get_settings()
    sources = ready_sources(settings)
    if not sources:
        log.warning("no silver tables yet: nothing to build")
        return []
    ensure_platform_tables(settings)
    # Everything downstream of a silver table that exists, less what also needs one that does
    # not exist yet; "cautious" keeps a test out unless all its parents are selected.
    selector = " ".join(f"source:silver.{name}+" for name in sources)
    # The Spark jobs' outputs (sources ml, video) exist from here on, empty until their job first runs.
    selection = [downstream_of] if downstream_of else [selector, "source:ml+", "source:video+", "resource_type:seed"]
    args = ["build", "--select", *selection, "--indirect-selection", "cautious"]
    missing = missing_sources(settings)
    if missing:
        log.warning("silver tables not built yet, their marts wait: %s", missing)
        args += ["--exclude", *(f"source:silver.{name}+" for name in missing)]
    run = run_dbt(args, settings)
    return [r["unique_id"].split(".")[-1] for r in run.results if r["unique_id"].startswith("model.")]


def build_gold(settings: Settings | None = None) -> GoldResult:
    """Build and test every model downstream of a silver table that exists, then publish."""
    settings = settings or get_settings()
    result = GoldResult(built=build_marts(settings))
    if result.built:
        result.published = publish_gold(settings)
    return result


def refresh_forecast_marts(settings: Settings | None = None) -> GoldResult:
    """After a forecast run: rebuild and republish only what reads the ML outputs
    (forecast_alerts, and incidents which stacks them), not the whole project."""
    return _refresh_downstream_of("source:ml+", settings)


def refresh_video_marts(settings: Settings | None = None) -> GoldResult:
    """After a video indexing run: rebuild and republish only what reads the video index
    (camera_counts_minute, and incidents which stacks the video events)."""
    return _refresh_downstream_of("source:video+", settings)


def _refresh_downstream_of(selector: str, settings: Settings | None) -> GoldResult:
    settings = settings or get_settings()
    built = build_marts(settings, downstream_of=selector)
    result = GoldResult(built=built)
    if built:
        result.published = publish_gold(settings, only=built)
    return result


def generate_docs(settings: Settings | None = None) -> Path:
    """``dbt docs generate``: the static site (models, columns, tests, lineage, exposures)
    over the warehouse as built; returns its index.html."""
    settings = settings or get_settings()
    run_dbt(["docs", "generate", "--static"], settings)  # one self-contained file: opens from file://
    return Path(dbt_env(settings)["DBT_TARGET_PATH"]) / "static_index.html"
