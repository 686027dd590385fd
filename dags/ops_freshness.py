"""
### Check every dataset's freshness SLA

Every 15 minutes, each contracted dataset's last arrival (the commit of its latest bronze
batch) is judged against its contract's `freshness` (`warn_after` / `error_after`): `fresh`,
`warn`, `error`, `never` (nothing ever arrived) or `no_sla`. One row per dataset is appended
to `ops.freshness_checks`, so a source that stopped delivering is seen, and its history kept,
whether or not anyone runs `ioc status`. Breaches are logged as warnings.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from lakehouse import orchestration as orch


@dag(
    dag_id="ops_freshness",
    schedule="*/15 * * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    default_args=orch.DEFAULT_ARGS,
    tags=["ops", "freshness"],
    doc_md=__doc__,
)
def ops_freshness():
    @task
    def record_freshness() -> dict:
        from lakehouse.quality.freshness import record_freshness as record

        checks = record(orch.catalog())
        states: dict[str, int] = {}
        for check in checks:
            states[check.state] = states.get(check.state, 0) + 1
        return {"checked": len(checks), "states": states,
                "breaches": {c.dataset: c.state for c in checks if c.breach}}

    record_freshness()


ops_freshness()
