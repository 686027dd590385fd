"""
### Build the shared gold models with dbt

Triggered whenever a silver table the dbt project reads is updated. Runs `dbt build`
(models and their tests) on dbt-duckdb over the silver Delta tables, then publishes every
mart to `gold.<model>` as a Delta table that DuckDB, Trino and Superset read.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetAny, dag, task

from lakehouse import orchestration as orch

_SOURCES = orch.dbt_silver_sources()


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
    @task(outlets=[orch.asset("gold", "marts")])
    def dbt_build_and_publish() -> dict:
        from lakehouse.pipeline.gold import build_gold

        result = build_gold()
        return {"built": result.built, "published": result.published}

    dbt_build_and_publish()


gold_dbt()
