"""Production mode changes no code path beyond configuration.

* ``settings.mode`` is read in exactly one place: how a Spark job is launched (``spark-submit``
  to the cluster vs the same job on a session in the worker), and both launches run the same
  job function.
* With every other setting equal, embedded and production settings give every function that
  reads settings the same answer.
* Moving the lake to S3 changes only values derived from the configured root and options.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from airflow.sdk import DAG

from lakehouse import orchestration
from lakehouse.ingest.cameras import object_root
from lakehouse.lake.paths import list_tables, storage_options, table_uri
from lakehouse.lake.storage import duckdb_secret_env, lake_location
from lakehouse.pipeline.dbt_runner import dbt_env
from lakehouse.settings import REPO_ROOT, Mode, Settings, reset_settings_cache
from lakehouse.spark.session import spark_conf
from lakehouse.video.job import thumbnail_root

CODE = ["lakehouse", "dags", "spark_jobs"]
ALLOWED_MODE_READS = {("lakehouse/orchestration.py", "spark_job_task")}
S3_OPTIONS = {"AWS_ENDPOINT_URL": "http://minio:9000", "AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": "secret",
              "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}


def _mode_reads() -> set[tuple[str, str]]:
    """(file, enclosing function) of every ``<settings>.mode`` and ``Mode.<member>``."""
    found: set[tuple[str, str]] = set()
    for folder in CODE:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            relative = str(path.relative_to(REPO_ROOT))
            if relative == "lakehouse/settings.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)] + [tree]:
                for node in ast.walk(function):
                    reads_mode = isinstance(node, ast.Attribute) and (
                        (node.attr == "mode" and "settings" in ast.unparse(node.value))
                        or (isinstance(node.value, ast.Name) and node.value.id == "Mode"))
                    if reads_mode:
                        found.add((relative, getattr(function, "name", "<module>")))
    # A read inside a function is also seen from the module: keep the innermost.
    return {(f, n) for f, n in found if n != "<module>" or not any(g == f and m != "<module>" for g, m in found)}


def test_the_mode_is_read_in_one_place():
    assert _mode_reads() == ALLOWED_MODE_READS


def _settings(tmp_path: Path, **overrides) -> Settings:
    base = {"lake_root": str(tmp_path / "lake"), "landing_root": tmp_path / "landing",
            "warehouse_path": tmp_path / "wh" / "ioc.duckdb", "gx_root": tmp_path / "gx",
            "spark_master": "local[2]", "spark_dir": tmp_path / "spark"}
    return Settings(**{**base, **overrides})


def _answers(settings: Settings, *, listing: bool = True) -> dict[str, object]:
    """What every settings-reading function of the lake, dbt and Spark layers answers
    (``listing``: also list the lake's tables, which needs the storage to be reachable)."""
    answers: dict[str, object] = {
        "table_uri": table_uri("silver", "air_quality_observed", settings),
        "storage_options": storage_options(settings),
        "lake_location": lake_location(settings),
        "dbt_env": dbt_env(settings),
        "duckdb_secret_env": duckdb_secret_env(settings),
        "spark_conf": spark_conf(settings),
        "mlflow_uri": settings.mlflow_uri,
        "video_objects": object_root(settings),
        "thumbnails": thumbnail_root(settings),
    }
    if listing:
        answers["list_tables"] = list_tables(settings)
    return answers


@pytest.mark.parametrize("storage", ["local", "s3"])
def test_production_mode_alone_changes_no_answer(tmp_path, land_rows, catalog, lake_settings, storage):
    extra: dict = {"lake_root": lake_settings.lake_root}
    if storage == "s3":  # (listing an object store needs a server: test_s3_end_to_end does it)
        extra = {"lake_root": "s3://lake/root", "storage_options": S3_OPTIONS}
    else:  # a real table, so the listing has something to find
        land_rows(catalog["admin_units"], "b1", [])
    listing = storage == "local"
    embedded = _answers(_settings(tmp_path, mode=Mode.embedded, **extra), listing=listing)
    production = _answers(_settings(tmp_path, mode=Mode.production, **extra), listing=listing)
    assert production == embedded
    if listing:
        assert embedded["list_tables"], "the listing saw the table"


def test_moving_the_lake_to_s3_changes_only_configured_values(tmp_path):
    local = _settings(tmp_path)
    s3 = _settings(tmp_path, mode=Mode.production, lake_root="s3://ioc-lake/lake", storage_options=S3_OPTIONS)
    a, b = _answers(local, listing=False), _answers(s3, listing=False)
    root_a, root_b = local.lake_root, s3.lake_root
    for key in ("table_uri", "lake_location", "video_objects", "thumbnails"):
        assert b[key] == a[key].replace(root_a, root_b), key
    assert b["storage_options"] == S3_OPTIONS and a["storage_options"] is None
    # dbt: the lake root, plus the DuckDB secret derived from the same options; nothing else.
    changed = {k for k in a["dbt_env"].keys() | b["dbt_env"].keys() if a["dbt_env"].get(k) != b["dbt_env"].get(k)}
    assert changed == {"IOC_LAKE_ROOT"} | set(b["duckdb_secret_env"])
    assert b["duckdb_secret_env"]["IOC_DUCKDB_S3_ENDPOINT"] == "minio:9000"
    assert b["duckdb_secret_env"]["IOC_DUCKDB_S3_USE_SSL"] == "false"
    # Spark: only Hadoop's S3A settings (used by the Delta jar), derived from the options.
    changed = {k for k in a["spark_conf"].keys() | b["spark_conf"].keys()
               if a["spark_conf"].get(k) != b["spark_conf"].get(k)}
    assert changed and all(k.startswith("spark.hadoop.fs.s3") for k in changed)
    assert b["spark_conf"]["spark.hadoop.fs.s3a.endpoint"] == "http://minio:9000"


def _lakehouse_calls(function: ast.AST, imports: dict[str, str]) -> set[str]:
    """Fully-qualified ``lakehouse.*`` functions called inside ``function``."""
    local = dict(imports)
    for node in ast.walk(function):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lakehouse"):
            local.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    return {local[n.func.id] for n in ast.walk(function)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in local}


@pytest.mark.parametrize(("dag_file", "script"), [("ml_forecast.py", "forecast.py"),
                                                  ("video_index.py", "video_index.py")])
def test_both_spark_launches_run_the_same_job(dag_file, script, monkeypatch):
    """Embedded: the DAG's callable on a local session; production: spark-submit of
    spark_jobs/<script> to the configured master. Both call the same lakehouse job."""
    dag_tree = ast.parse((REPO_ROOT / "dags" / dag_file).read_text(encoding="utf-8"))
    call = next(n for n in ast.walk(dag_tree) if isinstance(n, ast.Call)
                and ast.unparse(n.func).endswith("spark_job_task"))
    assert ast.literal_eval(call.args[1]) == script
    callable_name = call.args[3].id
    embedded_fn = next(n for n in ast.walk(dag_tree) if isinstance(n, ast.FunctionDef) and n.name == callable_name)
    script_tree = ast.parse((REPO_ROOT / "spark_jobs" / script).read_text(encoding="utf-8"))
    jobs = _lakehouse_calls(embedded_fn, {}) & _lakehouse_calls(script_tree, {})
    assert any(name.rsplit(".", 1)[-1].startswith("run_") for name in jobs), (dag_file, script, jobs)

    def job():
        return "ran"

    for mode, master in ((Mode.embedded, "local[2]"), (Mode.production, "spark://spark-master:7077")):
        monkeypatch.setenv("IOC_MODE", mode.value)
        monkeypatch.setenv("IOC_SPARK_MASTER", master)
        reset_settings_cache()
        with DAG(f"probe_{mode.value}", schedule=None):
            operator = orchestration.spark_job_task("run", script, [], job)().operator
        if mode is Mode.embedded:
            assert operator.python_callable is job
        else:
            command = operator.python_callable()
            assert command.startswith(f"spark-submit --master '{master}' ")
            assert command.endswith(f"'{REPO_ROOT / 'spark_jobs' / script}'")
    reset_settings_cache()
