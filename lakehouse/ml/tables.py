"""The gold tables the forecasting job writes: their columns, fixed here (pyarrow only, so the
gold DAG can create them empty without loading the forecasting stack)."""

from __future__ import annotations

import pyarrow as pa

FORECASTS = "forecasts"
BACKTESTS = "forecast_backtests"
PARTITION_BY = ["forecast_date"]

_RUN_FIELDS = [("model_name", pa.string()), ("model_version", pa.string()), ("run_id", pa.string()),
               ("issued_at", pa.timestamp("us", tz="UTC")), ("forecast_date", pa.date32())]
# Fixed schemas: dbt's ``ml`` source and the dashboards read these tables, and a column that
# happens to be all-null in one run must not change type (Arrow "null" is not a Delta type).
FORECAST_SCHEMA = pa.schema([
    ("series_kind", pa.string()), ("unique_id", pa.string()), ("model", pa.string()),
    ("selected", pa.bool_()), ("ds", pa.timestamp("us", tz="UTC")), ("yhat", pa.float64()),
    ("yhat_lo_80", pa.float64()), ("yhat_hi_80", pa.float64()), ("yhat_lo_95", pa.float64()),
    ("yhat_hi_95", pa.float64()), *_RUN_FIELDS])
BACKTEST_SCHEMA = pa.schema([
    ("series_kind", pa.string()), ("unique_id", pa.string()), ("model", pa.string()),
    ("selected", pa.bool_()), ("status", pa.string()), ("mase", pa.float64()), ("smape", pa.float64()),
    ("n_windows", pa.int32()), ("n_obs", pa.int32()), ("note", pa.string()), *_RUN_FIELDS])
