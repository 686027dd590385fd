"""Shared fixtures: every test gets its own lake, landing zone and warehouse under tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Airflow reads its configuration at import: point it at a throw-away SQLite home first.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="ioc-airflow-"))
from lakehouse.demo import airflow_environment

os.environ.update(airflow_environment(_AIRFLOW_HOME))

import pytest

from lakehouse.contracts import load_catalog
from lakehouse.settings import REPO_ROOT, Settings, get_settings, reset_settings_cache


@pytest.fixture
def lake_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("IOC_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("IOC_LANDING_ROOT", str(tmp_path / "landing"))
    monkeypatch.setenv("IOC_WAREHOUSE_PATH", str(tmp_path / "warehouse" / "ioc.duckdb"))
    monkeypatch.setenv("IOC_GX_ROOT", str(tmp_path / "gx"))
    monkeypatch.setenv("IOC_PII_SALT", "test-salt-not-a-secret")
    reset_settings_cache()
    yield get_settings()
    reset_settings_cache()


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(REPO_ROOT / "catalog")


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    """A writable copy of the real catalog, for tests that add or break contracts."""
    target = tmp_path / "catalog"
    shutil.copytree(REPO_ROOT / "catalog", target)
    return target


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata DB (SQLite) for real ``dag.test()`` runs."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return _AIRFLOW_HOME


@pytest.fixture
def land_rows(lake_settings):
    """Land typed rows as one bronze batch, as a connector would after parsing cleanly."""
    from datetime import datetime

    import polars as pl
    import pyarrow as pa

    from lakehouse.ingest.bronze import land
    from lakehouse.lake.schema import contract_schema

    no_rejects = pl.DataFrame(schema={"_row_number": pl.Int64, "_rule": pl.String, "_reason": pl.String,
                                      "_raw": pl.String})

    def _land(contract, batch_id: str, rows: list[dict], at: datetime | None = None) -> None:
        frame = pl.from_arrow(pa.Table.from_pylist(rows, schema=contract_schema(contract, lineage=False)))
        land(contract, frame, no_rejects, batch_id=batch_id, source="test", settings=lake_settings, ingested_at=at)

    return _land


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """One real local SparkSession for every test that needs one (UI off, scratch under tmp)."""
    from lakehouse.spark import get_spark

    scratch = tmp_path_factory.mktemp("spark")
    previous = {k: os.environ.get(k) for k in ("IOC_SPARK_DIR", "IOC_SPARK_UI")}
    os.environ["IOC_SPARK_DIR"] = str(scratch)
    os.environ["IOC_SPARK_UI"] = "false"
    session = get_spark(Settings(spark_master="local[2]"), app_name="ioc-tests")
    yield session
    session.stop()
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def mlflow_store(lake_settings, tmp_path, monkeypatch):
    """Its own MLflow store (SQLite + local artifacts) under tmp_path."""
    from lakehouse.ml.tracking import configure_mlflow
    from lakehouse.settings import get_settings, reset_settings_cache

    monkeypatch.setenv("IOC_MLFLOW_ROOT", str(tmp_path / "mlflow"))
    monkeypatch.setenv("IOC_MLFLOW_TRACKING_URI", "")
    reset_settings_cache()
    settings = get_settings()
    configure_mlflow(settings)
    yield settings
    reset_settings_cache()
