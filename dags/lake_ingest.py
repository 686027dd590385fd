"""
### Ingest department deliveries into bronze

One DAG per source system, generated from the contracts in `catalog/datasets/`: each
dataset's landing zone (`<landing_root>/<location>/incoming`) is read, good rows are
appended to `bronze.<dataset>`, rejected rows to `quarantine.<dataset>` with their reason,
and each file is moved to `processed/` or `failed/`. Re-running a batch never duplicates it.

A new contract YAML is a new DAG (or task) here with no code change.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from lakehouse import orchestration as orch


def build(system: str, contracts) -> None:
    @dag(
        dag_id=f"ingest_{system}",
        schedule=contracts[0].source.schedule,
        start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Ho_Chi_Minh"),
        catchup=False,
        max_active_runs=1,
        default_args={**orch.DEFAULT_ARGS, "owner": orch.owner_of(contracts)},
        tags=["ingest", "bronze", system, *sorted({c.domain for c in contracts})],
        doc_md=__doc__,
    )
    def ingest():
        for contract in contracts:

            @task(task_id=f"land_{contract.name}", outlets=[orch.asset("bronze", contract.name)])
            def land(dataset: str = contract.name) -> dict:
                from lakehouse.ingest.files import ingest_landing

                results = ingest_landing(orch.catalog()[dataset])
                return {
                    "files": [r.file for r in results],
                    "failed": [r.file for r in results if r.status == "failed"],
                    "bronze_rows": sum(r.bronze_rows for r in results),
                    "quarantined_rows": sum(r.quarantined_rows for r in results),
                }

            land()

    ingest()


for _system, _contracts in orch.systems().items():
    build(_system, _contracts)
