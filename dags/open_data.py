"""
### Export the province's public datasets as open data

Every table the access policy lets the `public` group read in full — silver tables of
contracts classified public, and gold marts whose derived classification is public — is
written to the open-data folder (`IOC_OPENDATA_DIR`, default `<lake>/objects/opendata`) as
Parquet and CSV (UTF-8) with a DCAT-AP catalogue, `catalog.json`, which the public API
serves at `/opendata/catalog.json` for any portal to harvest.

Triggered by the silver tables of public contracts and by the gold marts (the gold DAG
announces them all in one task; which marts are public is decided at run time from dbt's
lineage, which is too heavy to read while parsing this file), with a daily run as a
fallback. Idempotent: a table whose version did not change is not read again, a file whose
bytes did not change is not replaced, and files of tables that are no longer public are
removed.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetAny, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from lakehouse import orchestration as orch

_PUBLIC_SOURCES = [c.name for c in orch.catalog() if c.classification.value == "public"]
_TRIGGERS = [*(orch.asset("silver", n) for n in _PUBLIC_SOURCES), *(orch.asset("gold", m) for m in orch.dbt_marts())]
OPEN_DATA = Asset(name="opendata.catalog", uri="ioc-lake://objects/opendata/catalog.json", group="opendata")


@dag(
    dag_id="open_data",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("30 2 * * *", timezone="Asia/Ho_Chi_Minh"),
        assets=AssetAny(*_TRIGGERS),
    ),
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    default_args={**orch.DEFAULT_ARGS, "owner": "ioc"},
    tags=["open-data", "dcat", "public"],
    doc_md=__doc__,
)
def open_data():
    @task(outlets=[OPEN_DATA])
    def export() -> dict:
        from lakehouse.opendata import export_open_data

        result = export_open_data()
        print(f"open data in {result.folder}: {len(result.datasets)} datasets; wrote {result.written}; "
              f"removed {result.removed}; waiting for {result.waiting}")
        return {"datasets": result.datasets, "written": result.written, "removed": result.removed,
                "waiting": result.waiting}

    export()


open_data()
