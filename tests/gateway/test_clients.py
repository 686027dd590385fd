"""The tools departments already have, pointed at the gateway as ``trino://``: SQLAlchemy
(what Superset and pandas use), Superset itself in its own environment (SQLAlchemy 1.4), and
dbt-trino (the production dbt target)."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pandas as pd
import pytest
import sqlalchemy as sa

from lakehouse.pipeline.dbt_runner import dbt_env, dbt_executable
from lakehouse.settings import REPO_ROOT, Settings
from tests.gateway.conftest import port_of

SUPERSET_PYTHON = REPO_ROOT / ".venv-superset" / "bin" / "python"


def test_sqlalchemy_reflection_and_pandas(gateway):
    engine = sa.create_engine(f"trino://admin@127.0.0.1:{port_of(gateway)}/lake/gold")
    inspector = sa.inspect(engine)
    assert {"gold", "silver", "information_schema"} <= set(inspector.get_schema_names())
    assert inspector.has_table("readings", "gold") and not inspector.has_table("nope", "gold")
    columns = {c["name"]: c["type"] for c in inspector.get_columns("readings", "gold")}
    assert isinstance(columns["price"], sa.DECIMAL) and columns["price"].precision == 12
    assert isinstance(columns["observed_at"], sa.TIMESTAMP) and columns["observed_at"].timezone
    assert inspector.get_table_comment("readings", "gold") == {"text": None}
    assert inspector.get_indexes("readings", "gold") == []  # no $partitions table: tolerated by the dialect
    frame = pd.read_sql("SELECT unit_code, count(*) AS n FROM readings GROUP BY 1 ORDER BY 1", engine)
    assert frame["n"].sum() == 25_000 and list(frame["unit_code"]) == ["193", "194", "195"]
    engine.dispose()


SUPERSET_SCRIPT = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, os.environ["IOC_SUPERSET_DIR"])
    from superset.app import create_app
    with create_app().app_context():
        from superset.models.core import Database
        from superset.sql.parse import Table
        db = Database(database_name="gateway", sqlalchemy_uri=os.environ["GATEWAY_URI"])
        out = {"spec": db.db_engine_spec.__name__,
               "catalogs": sorted(db.get_all_catalog_names()),
               "schemas": sorted(db.get_all_schema_names(catalog="lake")),
               "tables": sorted(t[0] for t in db.get_all_table_names_in_schema(catalog="lake", schema="gold")),
               "columns": [c["column_name"] for c in db.get_columns(Table("people", "gold", "lake"))],
               "phones": db.get_df("SELECT DISTINCT phone FROM people", catalog="lake", schema="gold")["phone"].tolist()}
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
@pytest.mark.skipif(not SUPERSET_PYTHON.exists(), reason="make setup builds .venv-superset")
def test_superset_reads_the_gateway_as_a_trino_database(gateway, tmp_path):
    env = {**os.environ, "SUPERSET_SECRET_KEY": "test-only-" + "x" * 32,
           "IOC_SUPERSET_METADATA_URI": f"sqlite:///{tmp_path / 'superset.db'}",
           "SUPERSET_CONFIG_PATH": str(REPO_ROOT / "infra" / "superset" / "superset_config.py"),
           "IOC_SUPERSET_DIR": str(REPO_ROOT / "infra" / "superset"),
           "GATEWAY_URI": f"trino://ana@127.0.0.1:{port_of(gateway)}/lake"}
    done = subprocess.run([str(SUPERSET_PYTHON), "-c", SUPERSET_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT")), None)
    assert line, done.stdout[-2000:] + done.stderr[-3000:]
    out = json.loads(line[len("RESULT"):])
    assert out["spec"] == "TrinoEngineSpec"
    assert out["catalogs"] == ["lake", "system"] and out["schemas"] == ["gold", "information_schema"]
    assert out["tables"] == ["people", "readings"]  # ana's view: silver.hidden is not there
    assert "email" not in out["columns"] and out["phones"] == ["***"]


def _dbt(gateway, args: list[str], tmp_path) -> subprocess.CompletedProcess:
    settings = Settings(lake_root=str(gateway.metadata.lake.root), warehouse_path=tmp_path / "w" / "ioc.duckdb")
    env = {**os.environ, **dbt_env(settings), "IOC_DBT_TARGET": "trino", "IOC_TRINO_HOST": "127.0.0.1",
           "IOC_TRINO_PORT": str(port_of(gateway)), "IOC_TRINO_USER": "admin",
           "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs")}
    project = str(REPO_ROOT / "dbt_project")
    return subprocess.run([dbt_executable(), *args, "--target", "trino", "--project-dir", project,
                           "--profiles-dir", project], env=env, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.slow
def test_dbt_trino_connects_and_runs_a_query_through_the_gateway(gateway, tmp_path):
    debug = _dbt(gateway, ["debug"], tmp_path)
    assert "Connection test: [OK connection ok]" in debug.stdout.replace("\x1b[32m", "").replace("\x1b[0m", ""), \
        debug.stdout[-2000:]
    shown = _dbt(gateway, ["show", "--output", "json", "--inline",
                           "select count(*) as n from {{ target.database }}.gold.readings"], tmp_path)
    assert shown.returncode == 0, shown.stdout[-2000:]
    assert '"n": 25000' in shown.stdout, shown.stdout[-2000:]
