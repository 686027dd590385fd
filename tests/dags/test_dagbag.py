"""DAG integrity: every DAG imports, follows the house rules, and is generated from contracts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag

from lakehouse import orchestration as orch
from lakehouse.settings import REPO_ROOT, reset_settings_cache

DAGS = REPO_ROOT / "dags"


@pytest.fixture(scope="module")
def bag() -> DagBag:
    return DagBag(str(DAGS))


def test_no_import_errors(bag):
    assert bag.import_errors == {}
    assert bag.dags


def test_house_rules(bag):
    for dag_id, dag in bag.dags.items():
        assert dag.tags, dag_id
        assert dag.catchup is False, dag_id
        assert dag.doc_md and dag.doc_md.strip(), dag_id
        assert dag.max_active_runs == 1, dag_id
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id}"
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id}"


def test_ingest_dags_follow_the_contracts(bag, catalog):
    for contract in catalog:
        if contract.source.kind.value not in orch.INGESTIBLE_KINDS:
            continue
        dag = bag.dags[f"ingest_{contract.source.system}"]
        if contract.source.kind.value == "mqtt":  # one consumer session per system
            task = dag.get_task(f"drain_{contract.source.system}")
            assert f"bronze.{contract.name}" in [o.name for o in task.outlets]
        else:
            task = dag.get_task(f"land_{contract.name}")
            assert [o.name for o in task.outlets] == [f"bronze.{contract.name}"]
        assert dag.schedule == contract.source.schedule


def test_assets_link_the_tiers(bag):
    silver = bag.dags["silver_tourism_daily_arrivals"]
    assert [a.name for a in silver.timetable.asset_condition.objects] == ["bronze.tourism_daily_arrivals"]
    gold = bag.dags["gold_dbt"].timetable.asset_condition
    assert type(gold).__name__ == "AssetAny"  # any updated source rebuilds the marts
    assert {a.name for a in gold.objects} == {f"silver.{n}" for n in orch.dbt_silver_sources()}
    assert {"silver.tourism_daily_arrivals", "silver.admin_units"} <= {a.name for a in gold.objects}


def test_a_new_contract_is_a_new_dag_with_no_code_change(tmp_path, monkeypatch):
    catalog_dir = tmp_path / "catalog"
    shutil.copytree(REPO_ROOT / "catalog", catalog_dir)
    source = yaml.safe_load((catalog_dir / "datasets" / "hotel_occupancy.yaml").read_text(encoding="utf-8"))
    source.update(name="ferry_passengers", title="Ferry passengers", owner="transport", domain="traffic")
    source["source"].update(system="ferry_operator", location="transport/ferry_passengers")
    (catalog_dir / "datasets" / "ferry_passengers.yaml").write_text(yaml.safe_dump(source, allow_unicode=True),
                                                                      encoding="utf-8")
    monkeypatch.setenv("IOC_CATALOG_DIR", str(catalog_dir))
    reset_settings_cache()
    try:
        fresh = DagBag(str(DAGS))
    finally:
        reset_settings_cache()
    assert fresh.import_errors == {}
    assert "ingest_ferry_operator" in fresh.dags and "silver_ferry_passengers" in fresh.dags
    assert "land_ferry_passengers" in fresh.dags["ingest_ferry_operator"].task_ids


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_do_nothing_heavy_at_import(path):
    """Parsing a DAG file (what the dag-processor does every few seconds) loads none of the
    engines: checked in a fresh interpreter, by what it actually imported."""
    heavy = ("polars", "deltalake", "duckdb", "pyarrow", "pandas", "pyspark", "dbt", "great_expectations",
             "mlflow")
    probe = (f"import runpy, sys; runpy.run_path({str(path)!r}); "
             f"print('HEAVY=' + ','.join(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env=os.environ.copy())
    loaded = [line for line in done.stdout.splitlines() if line.startswith("HEAVY=")]
    assert loaded == ["HEAVY="], f"{path.name} imports at parse time: {loaded}"


def test_gold_renders_every_dbt_model_from_the_manifest(bag):
    """cosmos renders the parsed project: a task per model (and its tests) under one
    ``dbt build``, chosen by a branch; publish_gold announces one Asset per mart."""
    gold = bag.dags["gold_dbt"]
    assert [t.task_id for t in gold.roots] == ["choose_build"]
    producer = gold.get_task("dbt.dbt_producer_watcher")
    marts = orch.dbt_marts()
    assert {"incidents", "unit_daily_scorecard", "dim_admin_units"} <= set(marts)
    for model in [*marts, *(p.stem for p in (REPO_ROOT / "dbt_project/models/staging").glob("*.sql"))]:
        run = gold.get_task(f"dbt.{model}.run")
        assert producer.task_id in run.get_flat_relative_ids(upstream=True), model
    # Every watcher task waits for the build (else dag.test() would wait forever).
    for task in gold.task_group_dict["dbt"].children.values():
        assert task is producer or task.upstream_list, task.task_id
    assert set(gold.get_task("choose_build").downstream_task_ids) == {"dbt.dbt_producer_watcher",
                                                                      "build_available_marts"}
    publish = gold.get_task("publish_gold")
    assert {o.name for o in publish.outlets} == {f"gold.{m}" for m in marts}
    assert publish.trigger_rule == "none_failed_min_one_success"


def test_forecasting_is_triggered_by_the_marts_it_forecasts(bag):
    from lakehouse.ml.series import SERIES

    forecast = bag.dags["ml_forecast"]
    assert {a.name for a in forecast.timetable.asset_condition.objects} == {f"gold.{s.mart}" for s in SERIES}
    assert [t.task_id for t in forecast.topological_sort()] == ["train_and_score", "refresh_alert_marts",
                                                                "route_alerts"]
    assert {o.name for o in forecast.get_task("train_and_score").outlets} == {"gold.forecasts",
                                                                            "gold.forecast_backtests"}
    # No cycle: what the forecasting DAG publishes does not trigger it (or gold_dbt) again.
    published = {o.name for t in forecast.tasks for o in t.outlets}
    assert not published & {a.name for a in forecast.timetable.asset_condition.objects}
    assert not published & {a.name for a in bag.dags["gold_dbt"].timetable.asset_condition.objects}



def test_video_indexing_is_triggered_by_new_segments(bag):
    video = bag.dags["video_index"]
    assert {a.name for a in video.timetable.asset_condition.objects} == {"bronze.video_segments"}
    assert [t.task_id for t in video.topological_sort()] == ["index_segments", "refresh_video_marts"]
    published = {o.name for t in video.tasks for o in t.outlets}
    assert {"gold.video_events", "gold.video_tracks", "gold.camera_counts_minute", "gold.incidents"} <= published
    assert "bronze.video_segments" not in published



@pytest.mark.parametrize(("dag_id", "task_id", "script"), [("ml_forecast", "train_and_score", "forecast.py"),
                                                           ("video_index", "index_segments", "video_index.py")])
def test_spark_jobs_go_to_the_cluster_in_production(dag_id, task_id, script, bag, monkeypatch):
    """Embedded: the job runs in the worker on a local session. Production: the same job is
    spark-submitted to the cluster."""
    assert bag.dags[dag_id].get_task(task_id).task_type == "_PythonDecoratedOperator"
    monkeypatch.setenv("IOC_MODE", "production")
    monkeypatch.setenv("IOC_SPARK_MASTER", "spark://spark-master:7077")
    reset_settings_cache()
    try:
        prod = DagBag(str(DAGS)).dags[dag_id]
    finally:
        reset_settings_cache()
    submit = prod.get_task(task_id)
    assert submit.task_type == "_BashDecoratedOperator"
    command = submit.python_callable()
    assert command.startswith("spark-submit --master 'spark://spark-master:7077'")
    assert command.endswith(f"spark_jobs/{script}'")
