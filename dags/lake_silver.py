"""
### Gate bronze and upsert silver

One DAG per dataset, triggered by its bronze Asset (data, not clocks). Each new bronze batch
is checked against the contract's rules: blocking failures go to `quarantine.<dataset>` with
the failed rule, warnings are recorded; every rule's outcome lands in `ops.quality_results`.
Passing rows are PII-protected, deduplicated on the contract key and MERGEd into
`silver.<dataset>` (Change Data Feed on).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from lakehouse import orchestration as orch


def build(contract) -> None:
    @dag(
        dag_id=f"silver_{contract.name}",
        schedule=[orch.asset("bronze", contract.name)],
        start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Ho_Chi_Minh"),
        catchup=False,
        max_active_runs=1,
        default_args={**orch.DEFAULT_ARGS, "owner": contract.owner},
        tags=["silver", "quality", contract.domain],
        doc_md=__doc__,
    )
    def silver():
        @task(outlets=[orch.asset("silver", contract.name)])
        def gate_and_merge(dataset: str = contract.name) -> dict:
            from lakehouse.pipeline.silver import build_silver

            result = build_silver(orch.catalog()[dataset])
            return {"batches": result.batches, "rows_in": result.rows_in,
                    "quarantined": result.quarantined, "merged": result.merged,
                    "duplicates_removed": result.duplicates_removed}

        gate_and_merge()

    silver()


for _contracts in orch.systems().values():
    for _contract in _contracts:
        build(_contract)
