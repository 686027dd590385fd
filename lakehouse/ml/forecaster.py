"""The forecaster as one versioned thing: a configuration (which candidate models per
frequency, how many backtest windows) and the MLflow pyfunc that applies it.

The Spark job and the registered model run the same function (``forecast_frame``) on the
same rows, so what the registry compares is exactly what scoring uses.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import pandas as pd
from mlflow.pyfunc import PythonModel

# What a run returns for every series: ``process_series``' columns plus the series kind.
KIND_COLUMN = "series_kind"


@dataclass(frozen=True)
class ForecastConfig:
    """A forecasting policy. ``models`` overrides the candidate models per frequency spec
    (``{"hourly": ["SeasonalNaive", "AutoETS"]}``); unset specs use the defaults of
    ``lakehouse.forecast.candidate_models``. The best candidate per series, by backtest MASE,
    makes the forecast."""

    models: dict[str, list[str]] = field(default_factory=dict)
    n_windows: int | None = None  # None: the spec's own

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ForecastConfig:
        data = json.loads(text)
        return cls(models={k: list(v) for k, v in data.get("models", {}).items()},
                   n_windows=data.get("n_windows"))

    @property
    def digest(self) -> str:
        """Same policy, same digest: a re-run of the champion's policy is not a challenger."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def _spec_for(kind: str, config: ForecastConfig):
    from dataclasses import replace

    from lakehouse.forecast import SPECS
    from lakehouse.ml.series import BY_KIND

    spec = SPECS[BY_KIND[kind].spec] if kind in BY_KIND else SPECS[kind]
    return replace(spec, n_windows=config.n_windows) if config.n_windows else spec


def forecast_frame(pdf: pd.DataFrame, config: ForecastConfig) -> pd.DataFrame:
    """Backtest, select and forecast every series in ``pdf`` (``series_kind, unique_id, ds,
    y``); the result has ``process_series``' columns plus ``series_kind``. Called once per
    series by Spark's ``applyInPandas`` and on a whole frame by the pyfunc."""
    from lakehouse.forecast import OUTPUT_COLUMNS, process_series

    outputs = []
    for kind, rows in pdf.groupby(KIND_COLUMN, sort=True):
        spec = _spec_for(str(kind), config)
        out = process_series(rows[["unique_id", "ds", "y"]], spec, models=config.models.get(spec.name))
        outputs.append(out.assign(**{KIND_COLUMN: kind}))
    if not outputs:
        return pd.DataFrame(columns=[KIND_COLUMN, *OUTPUT_COLUMNS])
    return pd.concat(outputs, ignore_index=True)[[KIND_COLUMN, *OUTPUT_COLUMNS]]


class ForecasterModel(PythonModel):
    """MLflow pyfunc: ``predict`` takes history rows (``series_kind, unique_id, ds, y``) and
    returns the selected model's forecasts with intervals (``kind == 'forecast'`` rows) or,
    with ``params={"include_backtest": True}``, the backtest metrics as well."""

    def __init__(self, config: ForecastConfig | None = None):
        self.config = config or ForecastConfig()

    def load_context(self, context) -> None:
        path = context.artifacts.get("config") if context and context.artifacts else None
        if path:
            with open(path, encoding="utf-8") as handle:
                self.config = ForecastConfig.from_json(handle.read())

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        out = forecast_frame(model_input, self.config)
        if (params or {}).get("include_backtest"):
            return out
        return out[out["kind"] == "forecast"].reset_index(drop=True)
