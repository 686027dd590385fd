"""
### Build the shared gold models with dbt, then publish them as Delta

Triggered whenever a silver table the dbt project reads is updated.

* **Every silver table present** (the normal case): the dbt project runs through
  astronomer-cosmos as a `DbtTaskGroup` rendered from the parsed manifest, one task per model
  and one per model's tests, so the grid shows which mart failed and why. Cosmos' *watcher*
  mode runs a single `dbt build` (one dbt start-up, not one per model) and each model's task
  reports that model's result.
* **Some silver tables still missing** (a platform being connected department by department):
  `build_available_marts` builds every model whose silver tables all exist; the others wait.

`publish_gold` then writes each mart of the DuckDB warehouse to `gold.<mart>` in the lake as
Delta (incremental marts merge only the rows that changed), which DuckDB, Trino, Spark and
Superset read.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetAny, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode

from lakehouse import orchestration as orch
from lakehouse.pipeline.dbt_runner import dbt_env, dbt_executable, ensure_manifest
from lakehouse.settings import get_settings

_SETTINGS = get_settings()
_SOURCES = orch.dbt_silver_sources()
_DBT_GROUP = "dbt"


@dag(
    dag_id="gold_dbt",
    # Any silver table dbt reads triggers a rebuild (AssetAny): reference data changes rarely
    # and must not hold back the daily marts.
    schedule=AssetAny(*(orch.asset("silver", name) for name in _SOURCES)) if _SOURCES else None,
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    default_args={**orch.DEFAULT_ARGS, "retries": 1},
    tags=["gold", "dbt"],
    doc_md=__doc__,
)
def gold_dbt():
    @task.branch
    def choose_build() -> str:
        from lakehouse.pipeline.gold import missing_sources
        from lakehouse.pipeline.platform_tables import ensure_platform_tables

        ensure_platform_tables()  # the Spark jobs' tables exist (empty) before dbt reads them
        missing = missing_sources()
        if missing:
            print(f"silver tables not built yet, their marts wait: {missing}")
            return "build_available_marts"
        return f"{_DBT_GROUP}.dbt_producer_watcher"

    project = DbtTaskGroup(
        group_id=_DBT_GROUP,
        project_config=ProjectConfig(
            dbt_project_path=_SETTINGS.dbt_project_dir,
            manifest_path=ensure_manifest(_SETTINGS),
            env_vars=dbt_env(_SETTINGS),
            install_dbt_deps=False,  # no packages.yml; nothing is fetched at run time
        ),
        profile_config=ProfileConfig(
            profile_name="ioc",
            target_name=orch.dbt_target(),
            profiles_yml_filepath=_SETTINGS.dbt_project_dir / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            # A dbt subprocess, not dbtRunner in the worker: dbt-duckdb holds the warehouse
            # file open for the life of its process, and publish_gold must read it next.
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=dbt_executable(),
        ),
        # Exposures (the dashboards reading each mart) are documentation, not work to run.
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, exclude=["resource_type:exposure"]),
        operator_args={"emit_datasets": False},
    )
    orch.watch_after_build(project)

    @task
    def build_available_marts() -> list[str]:
        from lakehouse.pipeline.gold import build_marts

        return build_marts()

    @task(trigger_rule="none_failed_min_one_success",
          outlets=[orch.asset("gold", name) for name in orch.dbt_marts()])
    def publish_gold() -> dict[str, int]:
        from lakehouse.pipeline.gold import publish_gold

        return publish_gold()

    branch = choose_build()
    branch >> [project, build_available_marts()] >> publish_gold()


gold_dbt()
