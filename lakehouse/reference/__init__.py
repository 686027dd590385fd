"""Reference data shipped with the platform: Quảng Ninh's administrative units over time."""

from __future__ import annotations

from datetime import date
from importlib import resources

import polars as pl

_SCHEMA = {
    "unit_code": pl.String,
    "valid_from": pl.Date,
    "valid_to": pl.Date,
    "name_vi": pl.String,
    "name_en": pl.String,
    "level": pl.String,
    "parent_code": pl.String,
    "successor_code": pl.String,
    "former_district_code": pl.String,
    "code_status": pl.String,
    "centroid_lon": pl.Float64,
    "centroid_lat": pl.Float64,
}

REFORM_2025 = date(2025, 7, 1)
HOANH_BO_MERGER = date(2019, 10, 1)


def admin_units_csv() -> str:
    return str(resources.files(__name__) / "data" / "admin_units.csv")


def admin_units() -> pl.DataFrame:
    """Every unit version, one row per (unit_code, valid_from); valid_to is exclusive."""
    return pl.read_csv(admin_units_csv(), schema=_SCHEMA, try_parse_dates=True)


def units_valid_on(day: date, levels: tuple[str, ...] | None = None) -> pl.DataFrame:
    """Units in force on ``day`` below the province (optionally only some levels)."""
    frame = admin_units().filter(
        (pl.col("valid_from") <= day)
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") > day))
        & (pl.col("level") != "province")
    )
    if levels:
        frame = frame.filter(pl.col("level").is_in(list(levels)))
    return frame


__all__ = ["HOANH_BO_MERGER", "REFORM_2025", "admin_units", "admin_units_csv", "units_valid_on"]
