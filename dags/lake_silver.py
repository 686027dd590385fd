"""
### Gate bronze and upsert silver

One DAG per dataset, triggered by its bronze Asset (data, not clocks). Each new bronze batch
is validated by the dataset's Great Expectations suite (generated from its contract, see
`quality/suites/`): rows failing a blocking expectation go to `quarantine.<dataset>` with the
expectation named, warnings are recorded; each validation is a row of `ops.quality_results`
and each expectation's outcome a row of `ops.quality_expectations`. Passing rows are placed
on the administrative unit valid at their event date, PII-protected, deduplicated on the
contract key (newest wins) and MERGEd into `silver.<dataset>` (Change Data Feed on).
Gate and merge share a task on purpose: per batch, both happen or neither (the merge's app
transaction is the batch's receipt). The Data Docs site is rebuilt afterwards.
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

        @task
        def data_docs() -> str:
            from lakehouse.quality.checkpoint import build_data_docs

            return str(build_data_docs())

        gate_and_merge() >> data_docs()

    silver()


for _contracts in orch.systems().values():
    for _contract in _contracts:
        build(_contract)
