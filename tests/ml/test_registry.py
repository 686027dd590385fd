"""The registry's rule, on a real MLflow store: every run registers a version; @champion moves
only to a version with a strictly lower backtest MASE than the champion's on the same data."""

from __future__ import annotations

import math

import mlflow
import pytest
from mlflow import MlflowClient

from lakehouse.ml.forecaster import ForecastConfig, ForecasterModel
from lakehouse.ml.registry import FORECASTER, current_champion, is_better, promote_if_better


def _register(config: ForecastConfig) -> str:
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="forecaster", python_model=ForecasterModel(config),
                                       registered_model_name=FORECASTER,
                                       pip_requirements=["statsforecast", "pandas"])
    return str(info.registered_model_version)


def test_scores_compare_lower_is_better_and_ties_keep_the_champion():
    assert is_better(0.9, 1.0) and not is_better(1.0, 1.0) and not is_better(1.1, 1.0)
    assert is_better(1.5, None) and not is_better(math.nan, 1.0) and is_better(0.5, math.nan)


def test_champion_moves_only_to_a_better_version(mlflow_store):
    first = _register(ForecastConfig())
    decision = promote_if_better(first, 1.20, None)
    assert decision.promoted and "first version" in decision.reason
    assert str(current_champion().version) == first

    worse = _register(ForecastConfig(models={"hourly": ["SeasonalNaive"]}))
    decision = promote_if_better(worse, 1.35, 1.20)
    assert not decision.promoted and decision.champion_version == first
    assert str(current_champion().version) == first  # the loser is kept, not served

    tie = _register(ForecastConfig(n_windows=2))
    assert not promote_if_better(tie, 1.20, 1.20).promoted

    better = _register(ForecastConfig(models={"hourly": ["AutoETS"]}))
    decision = promote_if_better(better, 0.95, 1.20)
    assert decision.promoted and "beats" in decision.reason
    assert str(current_champion().version) == better

    client = MlflowClient()
    versions = client.search_model_versions(f"name = '{FORECASTER}'")
    assert len(versions) == 4  # every candidate's evidence is kept
    tags = {str(v.version): v.tags for v in versions}
    assert float(tags[worse]["backtest_mase"]) == pytest.approx(1.35)
    assert "does not beat" in tags[worse]["promotion"]


def test_config_round_trips_through_the_registered_model(mlflow_store):
    config = ForecastConfig(models={"daily": ["SeasonalNaive", "AutoETS"]}, n_windows=2)
    version = _register(config)
    loaded = mlflow.pyfunc.load_model(f"models:/{FORECASTER}/{version}").unwrap_python_model()
    assert loaded.config == config and loaded.config.digest == config.digest
    assert ForecastConfig().digest != config.digest
