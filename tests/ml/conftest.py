"""Every ML test gets its own MLflow store (SQLite + local artifacts) under tmp_path."""

from __future__ import annotations

import pytest


@pytest.fixture
def mlflow_store(lake_settings, tmp_path, monkeypatch):
    from lakehouse.ml.tracking import configure_mlflow
    from lakehouse.settings import get_settings, reset_settings_cache

    monkeypatch.setenv("IOC_MLFLOW_ROOT", str(tmp_path / "mlflow"))
    monkeypatch.setenv("IOC_MLFLOW_TRACKING_URI", "")
    reset_settings_cache()
    settings = get_settings()
    configure_mlflow(settings)
    yield settings
    reset_settings_cache()
