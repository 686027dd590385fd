"""
### Keep every Delta table quick to read

Once a day, at night in Quảng Ninh, every table of the lake that has gathered many small
files (one or more per batch) is compacted into large ones, its log gets a checkpoint, and
files that no version younger than a week reads are vacuumed. Data, batch markers (re-runs
stay no-ops) and a week of time travel are kept; readers see the same rows throughout.
One mapped task per table, so one busy table retries alone. See `lakehouse.lake.maintenance`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from lakehouse import orchestration as orch


@dag(
    dag_id="lake_maintenance",
    schedule="30 2 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    default_args=orch.DEFAULT_ARGS,
    tags=["lake", "maintenance"],
    doc_md=__doc__,
)
def lake_maintenance():
    @task
    def tables() -> list[str]:
        from lakehouse.lake.maintenance import lake_tables

        return lake_tables()

    @task(max_active_tis_per_dagrun=2)
    def maintain(uri: str) -> dict:
        from lakehouse.lake.maintenance import maintain_table
        from lakehouse.lake.paths import storage_options

        result = maintain_table(uri, storage_options=storage_options())
        return {"uri": uri, "files_before": result.files_before, "files_after": result.files_after,
                "vacuumed": result.files_vacuumed}

    @task
    def report(results: list[dict]) -> dict:
        return {"tables": len(results), "compacted": sum(r["files_after"] < r["files_before"] for r in results),
                "files_before": sum(r["files_before"] for r in results),
                "files_after": sum(r["files_after"] for r in results),
                "vacuumed": sum(r["vacuumed"] for r in results)}

    report(maintain.expand(uri=tables()))


lake_maintenance()
