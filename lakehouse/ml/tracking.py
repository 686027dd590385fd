"""MLflow wiring: one place decides where runs, models and artifacts go.

Embedded: a SQLite store (the model registry needs a database, not the file store) and a
local artifact folder under ``settings.mlflow_root``. Production: the tracking server in
``IOC_MLFLOW_TRACKING_URI`` (PostgreSQL + S3 behind it); no code path changes.
"""

from __future__ import annotations

import os
from pathlib import Path

from lakehouse.settings import Settings, get_settings

FORECAST_EXPERIMENT = "ioc-forecasting"


def configure_mlflow(settings: Settings | None = None, experiment: str = FORECAST_EXPERIMENT) -> str:
    """Point MLflow (tracking and registry) at the platform's store and return the id of
    ``experiment``, creating it with its artifacts under the store's artifact root."""
    import mlflow

    settings = settings or get_settings()
    if not settings.mlflow_tracking_uri:
        settings.mlflow_root.mkdir(parents=True, exist_ok=True)
    # Child processes (Spark workers, notebooks started from here) inherit the same store.
    os.environ["MLFLOW_TRACKING_URI"] = settings.mlflow_uri
    mlflow.set_tracking_uri(settings.mlflow_uri)
    mlflow.set_registry_uri(settings.mlflow_uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        location = None
        if not settings.mlflow_tracking_uri:  # a server chooses its own artifact root
            location = (Path(settings.mlflow_root) / "artifacts" / experiment).resolve().as_uri()
        experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
    # The active experiment, so a bare start_run() never falls back to the "Default"
    # experiment, whose artifacts would land in ./mlruns of whatever the working directory is.
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id
