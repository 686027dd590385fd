"""Forecasting core: per-frequency policies, the per-series backtest/forecast function the
Spark job maps over series, accuracy metrics, and the Tourism-competition evaluation that
scores that same function on public data.

Pandas and statsforecast only (no Spark import): the function is unit-tested here and runs
unchanged inside ``applyInPandas`` and the MLflow pyfunc.
"""

from lakehouse.forecast.backtest import (
    OUTPUT_COLUMNS,
    OUTPUT_SCHEMA,
    backtest_windows,
    output_columns,
    output_schema,
    process_series,
    regularise,
    resolve_models,
    summarise,
)
from lakehouse.forecast.metrics import mase, naive_scale, smape
from lakehouse.forecast.specs import (
    DEFAULT_LEVEL,
    SPECS,
    FrequencySpec,
    baseline_model,
    candidate_models,
    optional_models,
)
from lakehouse.forecast.tourism import (
    TourismSeries,
    aggregate_tourism,
    evaluate_tourism,
    load_tourism_series,
    score_tourism,
)

__all__ = [
    "DEFAULT_LEVEL",
    "OUTPUT_COLUMNS",
    "OUTPUT_SCHEMA",
    "SPECS",
    "FrequencySpec",
    "TourismSeries",
    "aggregate_tourism",
    "backtest_windows",
    "baseline_model",
    "candidate_models",
    "evaluate_tourism",
    "load_tourism_series",
    "mase",
    "naive_scale",
    "optional_models",
    "output_columns",
    "output_schema",
    "process_series",
    "regularise",
    "resolve_models",
    "score_tourism",
    "smape",
    "summarise",
]
