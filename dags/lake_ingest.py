"""
### Ingest a source system into bronze

One DAG per source system, generated from the contracts in `catalog/datasets/`, one task per
dataset running the connector its `source.kind` names: file drops (landing zone
`incoming → processed | failed`), department databases (incremental by watermark), REST and
Open311 APIs (paged, incremental), MQTT sensors (NGSI-LD micro-batches) and camera exports.
Good rows are appended to `bronze.<dataset>`, rejected rows to `quarantine.<dataset>` with
their reason. Re-running a batch never duplicates it.

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
        if contracts[0].source.kind.value == "mqtt":
            # One consumer per broker session (client id per system): every topic at once.
            @task(task_id=f"drain_{system}", outlets=[orch.asset("bronze", c.name) for c in contracts])
            def drain(names: list[str] = [c.name for c in contracts]) -> list[dict]:  # noqa: B006
                from lakehouse.ingest.connectors import run_mqtt_system

                catalog = orch.catalog()
                return [s.as_dict() for s in run_mqtt_system([catalog[n] for n in names])]

            drain()
            return
        for contract in contracts:

            @task(task_id=f"land_{contract.name}", outlets=[orch.asset("bronze", contract.name)])
            def land(dataset: str = contract.name) -> dict:
                from lakehouse.ingest.connectors import run_connector

                return run_connector(orch.catalog()[dataset]).as_dict()

            land()

    ingest()


for _system, _contracts in orch.systems().items():
    build(_system, _contracts)
