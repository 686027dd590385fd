"""Forecast plots logged with every run: history, the selected model's forecast and its
80 % / 95 % intervals, a few series per kind (people compare runs by looking)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SERIES_PER_KIND = 4
HISTORY_POINTS = 24 * 7


def forecast_plots(output: pd.DataFrame, series, folder: Path) -> list[Path]:
    """One PNG per series kind; ``series`` is the Spark frame of history rows."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and workers
    import matplotlib.pyplot as plt

    forecasts = output[(output["kind"] == "forecast") & output["selected"].fillna(False).astype(bool)]
    chosen = {kind: sorted(rows["unique_id"].unique())[:SERIES_PER_KIND]
              for kind, rows in forecasts.groupby("series_kind")}
    wanted = [uid for ids in chosen.values() for uid in ids]
    if not wanted:
        return []
    history = series.where(series.unique_id.isin(wanted)).toPandas()
    paths = []
    for kind, ids in chosen.items():
        fig, axes = plt.subplots(len(ids), 1, figsize=(10, 2.6 * len(ids)), squeeze=False)
        for ax, uid in zip(axes[:, 0], ids, strict=True):
            past = history[history["unique_id"] == uid].sort_values("ds").tail(HISTORY_POINTS)
            ahead = forecasts[forecasts["unique_id"] == uid].sort_values("ds")
            ax.plot(past["ds"], past["y"], color="#333333", linewidth=1, label="actual")
            ax.fill_between(ahead["ds"], ahead["yhat_lo_95"], ahead["yhat_hi_95"], color="#9ecae1",
                            alpha=0.5, label="95 %")
            ax.fill_between(ahead["ds"], ahead["yhat_lo_80"], ahead["yhat_hi_80"], color="#4292c6",
                            alpha=0.5, label="80 %")
            model = ahead["model"].iloc[0] if len(ahead) else "?"
            ax.plot(ahead["ds"], ahead["yhat"], color="#08519c", linewidth=1.5, label=f"forecast ({model})")
            ax.set_title(uid, fontsize=9, loc="left")
            ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        path = folder / f"forecast_{kind}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths
