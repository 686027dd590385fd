"""Writes the starter notebooks from the cells below (``python ml/notebooks/build_notebooks.py``).

Notebooks are kept as code here so reviews read as Python diffs; the .ipynb files are what
data scientists open (Jupyter, VS Code) and what tests execute with papermill.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

EXPLORE = [
    new_markdown_cell(
        "# Forecasts vs actuals\n\n"
        "Reads the lake through DuckDB (the same `gold` tables Superset and Trino serve): the served "
        "model's forecasts (`gold.forecasts`), its backtest evidence (`gold.forecast_backtests`) and "
        "the actuals from the marts. Change `series_kind` / `series_id` below and re-run."),
    new_code_cell("series_kind = 'water_level'  # pm25, pm10, water_level, traffic_flow, visitors\n"
                  "series_id = None  # e.g. 'water_level:QN-H-01'; None = the first one", metadata={"tags": ["parameters"]}),
    new_code_cell(
        "import matplotlib.pyplot as plt\n\n"
        "from lakehouse.lake.duck import lake_connection\n"
        "from lakehouse.ml.series import BY_KIND\n\n"
        "plt.switch_backend('Agg')  # also runs headless (papermill, CI); Jupyter shows the figures\n"
        "con = lake_connection()\n"
        "forecasts = con.sql(\"select * from gold.forecasts where series_kind = ? \"\n"
        "                    \"and forecast_date = (select max(forecast_date) from gold.forecasts)\", params=[series_kind]).df()\n"
        "assert len(forecasts), f'no forecasts for {series_kind}: run the ml_forecast DAG first'\n"
        "series_id = series_id or min(forecasts.unique_id)\n"
        "source = BY_KIND[series_kind]\n"
        "key = series_id.split(':', 1)[1]\n"
        "actuals = con.sql(f\"select {source.time} as ds, {source.value} as y from gold.{source.mart} \"\n"
        "                  f\"where {source.key} = ? order by 1\", params=[key]).df()\n"
        "print(series_id, len(actuals), 'actual rows', len(forecasts[forecasts.unique_id == series_id]), 'forecast rows')"),
    new_code_cell(
        "one = forecasts[(forecasts.unique_id == series_id) & forecasts.selected].sort_values('ds')\n"
        "fig, ax = plt.subplots(figsize=(11, 4))\n"
        "ax.plot(actuals.ds.tail(24 * 7), actuals.y.tail(24 * 7), color='#333', label='actual')\n"
        "ax.fill_between(one.ds, one.yhat_lo_95, one.yhat_hi_95, alpha=.3, label='95 %')\n"
        "ax.fill_between(one.ds, one.yhat_lo_80, one.yhat_hi_80, alpha=.5, label='80 %')\n"
        "ax.plot(one.ds, one.yhat, label=f'forecast ({one.model.iloc[0]}, v{one.model_version.iloc[0]})')\n"
        "ax.legend(); ax.set_title(series_id)\n"
        "fig.savefig('forecast_vs_actual.png', dpi=80)"),
    new_code_cell(
        "backtests = con.sql(\"select series_kind, model, avg(mase) as mase, avg(smape) as smape, count(*) as series \"\n"
        "                    \"from gold.forecast_backtests where forecast_date = (select max(forecast_date) from gold.forecast_backtests) \"\n"
        "                    \"group by all order by series_kind, mase\").df()\n"
        "backtests"),
]

COMPARE = [
    new_markdown_cell(
        "# Compare runs and promote a model\n\n"
        "Every run of the forecasting job registers a version of `ioc_forecaster`; the job moves "
        "`@champion` only when the new version's backtest MASE beats the champion's on the same "
        "series. Here you compare runs yourself and, if you decide so, promote a version by hand "
        "(set `promote_version`)."),
    new_code_cell("promote_version = None  # e.g. '3' to move @champion to version 3", metadata={"tags": ["parameters"]}),
    new_code_cell(
        "import mlflow\n"
        "from mlflow import MlflowClient\n\n"
        "from lakehouse.ml.registry import CHAMPION, FORECASTER, current_champion\n"
        "from lakehouse.ml.tracking import configure_mlflow\n\n"
        "experiment_id = configure_mlflow()\n"
        "runs = mlflow.search_runs([experiment_id], order_by=['metrics.backtest_mase ASC'])\n"
        "cols = [c for c in ['run_id', 'start_time', 'metrics.backtest_mase', 'metrics.champion_backtest_mase',\n"
        "                     'params.config_digest', 'params.series', 'tags.promotion'] if c in runs]\n"
        "runs[cols]"),
    new_code_cell(
        "client = MlflowClient()\n"
        "versions = client.search_model_versions(f\"name = '{FORECASTER}'\")\n"
        "table = sorted((int(v.version), v.tags.get('backtest_mase'), v.aliases, v.tags.get('promotion')) for v in versions)\n"
        "champion = current_champion()\n"
        "print('champion:', champion and champion.version)\n"
        "table"),
    new_code_cell(
        "if promote_version is not None:\n"
        "    client.set_registered_model_alias(FORECASTER, CHAMPION, str(promote_version))\n"
        "    client.set_model_version_tag(FORECASTER, str(promote_version), 'promotion', 'promoted by hand from the compare notebook')\n"
        "    print('champion is now', current_champion().version)"),
]


def main() -> None:
    for name, cells in {"01_forecasts_vs_actuals.ipynb": EXPLORE, "02_compare_runs_and_promote.ipynb": COMPARE}.items():
        notebook = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                      "language": "python"}})
        nbformat.write(notebook, HERE / name)


if __name__ == "__main__":
    main()
