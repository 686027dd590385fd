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
